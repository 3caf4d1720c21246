/**
 * Malformed input from a fake runtime written for this test: garbage, truncated and oversized
 * frames, an unknown conn id, undecodable protobuf. Each must give one logged error line and a
 * clean reconnect; the plugin stays alive and serves the next session normally.
 */
import assert from "@podperf/assert";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { recorder, until } from "./log_recorder.ts";
import { cat, frame, hex, ld, ttrpcMsg } from "./wire.ts";
import { CONFIGURE_FRAME } from "./captures.ts";

const CASES: { name: string; bytes: Uint8Array; close: boolean; expect: string }[] = [
  {
    name: "garbage",
    // Deterministic noise: reads as a frame for conn 0x9e3779b9 of 0x10 bytes.
    bytes: cat(hex("9e3779b9 00000010"), new Uint8Array(16).map((_, i) => (i * 37) & 0xff)),
    close: false,
    expect: "unknown-conn",
  },
  {
    name: "truncated frame",
    bytes: CONFIGURE_FRAME.subarray(0, 30),
    close: true,
    expect: "truncated",
  },
  {
    name: "oversized length",
    bytes: hex("00000001 fffffff0 0000"),
    close: false,
    expect: "oversized-frame",
  },
  {
    name: "frame for an unknown conn id",
    bytes: frame(7, ttrpcMsg(1, 1, new Uint8Array(0))),
    close: false,
    expect: "unknown-conn",
  },
  {
    name: "undecodable ttrpc request",
    bytes: frame(1, ttrpcMsg(1, 1, hex("0a 64 41 42 43"))),
    close: false,
    expect: "undecodable",
  },
  {
    name: "undecodable NRI payload",
    bytes: frame(
      1,
      ttrpcMsg(
        1,
        1,
        cat(ld(1, "nri.pkg.api.v1alpha1.Plugin"), ld(2, "Synchronize"), ld(3, hex("0a ff ff ff"))),
      ),
    ),
    close: false,
    expect: "undecodable",
  },
  {
    name: "bad ttrpc message type",
    bytes: frame(1, hex("00000000 00000001 07 00")),
    close: false,
    expect: "bad-message",
  },
];

Deno.test("plugin logs one line per malformed input, reconnects and stays alive", async () => {
  const rt = FakeRuntime.start();
  const { log, lines } = recorder();
  const store = new MetadataStore();
  const nri = startNriPlugin({
    socketPath: rt.path,
    store,
    log,
    minBackoffMs: 5,
    maxBackoffMs: 20,
  });
  try {
    for (const c of CASES) {
      const peer = await rt.accept();
      await peer.nextRequest(); // RegisterPlugin
      const before = lines.filter((l) => l.level === "error").length;
      await peer.write(c.bytes);
      if (c.close) await peer.close();
      // The plugin drops the session itself (the peer sees the close) unless we closed it.
      await peer.closed;
      assert.ok(
        await until(() => lines.filter((l) => l.level === "error").length > before, 2000),
        `${c.name}: an error is logged`,
      );
      const errs = lines.filter((l) => l.level === "error").slice(before);
      assert.equal(errs.length, 1, `${c.name}: exactly one error line`);
      assert.match(String(errs[0].fields?.error), new RegExp(c.expect), c.name);
      assert.equal(errs[0].fields?.errorKind, "NriProtocolError", c.name);
    }
    // After all that, a normal session still works.
    const peer = await rt.accept();
    const synced = nri.nextSync();
    assert.equal((await peer.nextRequest()).method, "RegisterPlugin");
    await peer.handshake();
    await synced;
    assert.equal(nri.connected, true);
    assert.equal(nri.stats.protocolErrors, CASES.length);
    assert.equal(nri.stats.sessions, CASES.length + 1);
  } finally {
    await nri.close();
    await rt.close();
  }
});
