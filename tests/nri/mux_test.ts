import assert from "@podperf/assert";
import { encodeFrames, MAX_SEND_FRAME_PAYLOAD, MuxDecoder } from "../../lib/nri/mux.ts";
import { NriProtocolError } from "../../lib/nri/errors.ts";
import { cat, frame, hex, toHex } from "./wire.ts";
import { CONFIGURE_FRAME, REGISTER_PLUGIN_PROTO_50 } from "./captures.ts";

function collect(maxFrame?: number) {
  const frames: { conn: number; payload: string }[] = [];
  const dec = new MuxDecoder((conn, p) => frames.push({ conn, payload: toHex(p) }), maxFrame);
  return { dec, frames };
}

Deno.test("mux decodes the captured RegisterPlugin frame", () => {
  const { dec, frames } = collect();
  dec.push(REGISTER_PLUGIN_PROTO_50);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].conn, 2);
  assert.equal(frames[0].payload.length / 2, 0x45);
  assert.equal(dec.pending, 0);
});

Deno.test("mux reassembles frames fed one byte at a time", () => {
  const { dec, frames } = collect();
  const both = cat(CONFIGURE_FRAME, REGISTER_PLUGIN_PROTO_50);
  for (let i = 0; i < both.length; i++) dec.push(both.subarray(i, i + 1));
  assert.deepEqual(frames.map((f) => f.conn), [1, 2]);
  assert.equal(frames[0].payload, toHex(CONFIGURE_FRAME.subarray(8)));
});

Deno.test("mux keeps an incomplete frame pending", () => {
  const { dec, frames } = collect();
  dec.push(CONFIGURE_FRAME.subarray(0, 20));
  assert.equal(frames.length, 0);
  assert.equal(dec.pending, 20);
});

Deno.test("mux splits an outgoing message into frames of at most 4096 bytes", () => {
  const msg = new Uint8Array(5418).map((_, i) => i & 0xff);
  const out = encodeFrames(1, msg);
  const { dec, frames } = collect();
  dec.push(out);
  assert.deepEqual(frames.map((f) => f.payload.length / 2), [4096, 1322]);
  assert.ok(frames.every((f) => f.conn === 1));
  assert.equal(frames.map((f) => f.payload).join(""), toHex(msg));
  const big = encodeFrames(2, new Uint8Array(3 * MAX_SEND_FRAME_PAYLOAD + 1));
  const c2 = collect();
  c2.dec.push(big);
  assert.deepEqual(c2.frames.map((f) => f.payload.length / 2), [4096, 4096, 4096, 1]);
});

Deno.test("mux sends a small message as exactly one frame", () => {
  assert.equal(
    toHex(encodeFrames(2, hex("0000000000000001 0200"))),
    "000000020000000a00000000000000010200",
  );
});

Deno.test("mux refuses a frame longer than its bound", () => {
  const { dec } = collect(1024);
  assert.throws(
    () => dec.push(hex("00000001 00000401")),
    (e) => e instanceof NriProtocolError && e.fault === "oversized-frame" && e.connId === 1,
  );
  const ok = collect(1024);
  ok.dec.push(frame(1, new Uint8Array(1024)));
  assert.equal(ok.frames.length, 1);
});
