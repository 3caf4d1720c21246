import assert from "@podperf/assert";
import {
  Code,
  decodeRequestBody,
  decodeResponseBody,
  encodeMessage,
  encodeRequestBody,
  encodeResponseBody,
  TtrpcMessage,
  TtrpcReassembler,
} from "../../lib/nri/ttrpc.ts";
import { encodeFrames } from "../../lib/nri/mux.ts";
import { NriProtocolError } from "../../lib/nri/errors.ts";
import { nriTypes } from "../../lib/nri/proto.ts";
import { EVENT_MASK, registerPluginPayload } from "../../lib/nri/plugin.ts";
import {
  BAD_INDEX_STATUS_BODY,
  CONFIGURE_BODY,
  CONFIGURE_FRAME,
  CONFIGURE_REPLY_7FF,
  EVEN_SID_STATUS_BODY,
  REGISTER_PLUGIN_PROTO_50,
  SYNCHRONIZE_REPLY,
} from "./captures.ts";
import { cat, f32, f64, hex, ld, toHex, vf } from "./wire.ts";

Deno.test("ttrpc encodes RegisterPlugin exactly as the captured frame", () => {
  const body = encodeRequestBody(
    "nri.pkg.api.v1alpha1.Runtime",
    "RegisterPlugin",
    registerPluginPayload("proto", "50"),
  );
  const out = encodeFrames(2, encodeMessage(1, 1, body));
  assert.equal(toHex(out), toHex(REGISTER_PLUGIN_PROTO_50));
});

Deno.test("ttrpc decodes the captured Configure request", () => {
  const msgs: TtrpcMessage[] = [];
  const r = new TtrpcReassembler(1, (m) => msgs.push({ ...m, body: m.body.slice() }));
  r.push(CONFIGURE_FRAME.subarray(8));
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].streamId, 1);
  assert.equal(msgs[0].type, 1);
  const req = decodeRequestBody(msgs[0].body, 1);
  assert.equal(req.service, "nri.pkg.api.v1alpha1.Plugin");
  assert.equal(req.method, "Configure");
  assert.equal(req.timeoutNano, 1999905834);
  const cfg = nriTypes.ConfigureRequest.toObject(nriTypes.ConfigureRequest.decode(req.payload));
  assert.deepEqual(cfg, { runtimeName: "containerd", runtimeVersion: "1.7.24~ds1" });
});

Deno.test("ttrpc encodes the Configure reply exactly as captured", () => {
  const payload = nriTypes.ConfigureResponse.encode({ events: 0x7ff }).finish();
  const out = encodeFrames(1, encodeMessage(1, 2, encodeResponseBody(payload)));
  assert.equal(toHex(out), toHex(CONFIGURE_REPLY_7FF));
  // Our own mask is explicit and non-zero, inside the v0.6 valid set.
  assert.equal(EVENT_MASK, 0x777);
  assert.equal(EVENT_MASK & ~0x7ff, 0);
});

Deno.test("ttrpc encodes the Synchronize reply exactly as captured", () => {
  const out = encodeFrames(1, encodeMessage(3, 2, encodeResponseBody(new Uint8Array(0))));
  assert.equal(toHex(out), toHex(SYNCHRONIZE_REPLY));
});

Deno.test("ttrpc decodes error statuses and treats a missing status as OK", () => {
  const bad = decodeResponseBody(BAD_INDEX_STATUS_BODY, 2);
  assert.equal(bad.code, Code.UNKNOWN);
  assert.equal(bad.message, 'invalid plugin index: invalid plugin index "5", must be 2 digits');
  assert.equal(BAD_INDEX_STATUS_BODY.length, 0x46);
  const even = decodeResponseBody(EVEN_SID_STATUS_BODY, 2);
  assert.equal(even.code, Code.INVALID_ARGUMENT);
  assert.equal(even.message, "StreamID must be odd for client initiated streams");
  const ok = decodeResponseBody(new Uint8Array(0), 2);
  assert.deepEqual(ok, { code: 0, message: "", payload: new Uint8Array(0) });
});

Deno.test("ttrpc skips unknown fields of wire types 0, 1, 2 and 5", () => {
  const unknown = cat(vf(90, 12345), f64(91, 0x0102030405060708n), ld(92, "future"), f32(93, 7));
  // In the envelope...
  const req = decodeRequestBody(cat(CONFIGURE_BODY, unknown), 1);
  assert.equal(req.method, "Configure");
  // ...and inside the NRI payload (ConfigureRequest v0.7+ adds timeouts as fields 4 and 5).
  const payload = cat(ld(2, "containerd"), unknown, vf(4, 5000), vf(5, 2000), ld(3, "2.3.0"));
  const cfg = nriTypes.ConfigureRequest.toObject(nriTypes.ConfigureRequest.decode(payload));
  assert.deepEqual(cfg, { runtimeName: "containerd", runtimeVersion: "2.3.0" });
});

Deno.test("ttrpc reassembles a message split across frames and several per frame", () => {
  const msgs: number[] = [];
  const r = new TtrpcReassembler(1, (m) => msgs.push(m.streamId));
  const a = encodeMessage(1, 1, new Uint8Array(5000).fill(7));
  const b = encodeMessage(3, 1, new Uint8Array(3));
  const c = encodeMessage(5, 1, new Uint8Array(0));
  const stream = cat(a, b, c);
  r.push(stream.subarray(0, 4096));
  assert.deepEqual(msgs, []);
  r.push(stream.subarray(4096, 5011));
  assert.deepEqual(msgs, [1]);
  r.push(stream.subarray(5011));
  assert.deepEqual(msgs, [1, 3, 5]);
  assert.equal(r.pending, 0);
});

Deno.test("ttrpc refuses an unknown message type and an oversized length", () => {
  const r = new TtrpcReassembler(1, () => {}, 1 << 20);
  assert.throws(
    () => r.push(hex("00000000 00000001 09 00")),
    (e) => e instanceof NriProtocolError && e.fault === "bad-message",
  );
  const r2 = new TtrpcReassembler(2, () => {}, 1 << 20);
  assert.throws(
    () => r2.push(hex("00100001 00000001 02 00")),
    (e) => e instanceof NriProtocolError && e.fault === "oversized-frame" && e.connId === 2,
  );
});

Deno.test("ttrpc reports an undecodable protobuf as a protocol error", () => {
  // Field 1 claims 100 bytes but the body ends after 3.
  assert.throws(
    () => decodeRequestBody(hex("0a 64 41 42 43"), 1),
    (e) => e instanceof NriProtocolError && e.fault === "undecodable",
  );
  assert.throws(
    () => decodeResponseBody(hex("0a 05 08"), 2),
    (e) => e instanceof NriProtocolError && e.fault === "undecodable",
  );
});
