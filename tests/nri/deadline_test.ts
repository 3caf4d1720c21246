/**
 * Start-up deadlines against runtimes no real containerd imitates: one that accepts and never
 * answers, and ones that trickle their replies a byte at a time. Each is logged once (throttled),
 * dropped and reconnected with backoff, and the state shows in the plugin's stats.
 */
import assert from "@podperf/assert";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { encodeFrames } from "../../lib/nri/mux.ts";
import { PLUGIN_SERVICE } from "../../lib/nri/plugin.ts";
import { nriTypes } from "../../lib/nri/proto.ts";
import { encodeMessage, encodeRequestBody } from "../../lib/nri/ttrpc.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { recorder, until } from "./log_recorder.ts";

const DEADLINES = {
  registerTimeoutMs: 500,
  syncTimeoutMs: 1500,
  minBackoffMs: 20,
  maxBackoffMs: 50,
};

/** A unix listener that accepts every connection and hands it to `serve`. */
function listener(serve: (conn: Deno.Conn) => Promise<void>) {
  const dir = Deno.makeTempDirSync({ prefix: "podperf-nri-deadline-" });
  const path = `${dir}/nri.sock`;
  const l = Deno.listen({ transport: "unix", path });
  let accepted = 0;
  const conns: Deno.Conn[] = [];
  const serving: Promise<void>[] = [];
  const loop = (async () => {
    try {
      for await (const c of l) {
        accepted++;
        conns.push(c);
        serving.push(serve(c).catch(() => {}));
      }
    } catch { /* closed */ }
  })();
  return {
    path,
    get accepted() {
      return accepted;
    },
    async close() {
      l.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the plugin */ }
      }
      await Promise.all(serving);
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** Reads and discards until the peer closes. */
async function drain(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    while ((await conn.read(buf)) !== null) { /* discard */ }
  } catch { /* closed under us */ }
}

async function trickle(conn: Deno.Conn, bytes: Uint8Array, everyMs: number): Promise<void> {
  for (const b of bytes) {
    await new Promise((r) => setTimeout(r, everyMs));
    await conn.write(Uint8Array.of(b));
  }
}

Deno.test("a runtime that accepts and never answers is logged once and reconnected", async () => {
  const rt = listener(drain);
  const store = new MetadataStore();
  const { log, lines } = recorder();
  const nri = startNriPlugin({ socketPath: rt.path, store, log, ...DEADLINES });
  try {
    assert.ok(await until(() => rt.accepted >= 3, 5000), `reconnects (${rt.accepted})`);
    assert.ok(nri.stats.deadlineMisses >= 2);
    assert.ok(nri.stats.reconnects >= 2);
    assert.match(nri.stats.lastError ?? "", /RegisterPlugin not completed .* 500 ms/);
    assert.ok(["connecting", "backoff"].includes(nri.stats.state), nri.stats.state);
    const missed = lines.filter((l) => l.msg === "NRI runtime missed a deadline; reconnecting");
    assert.equal(missed.length, 1, "one line, the rest throttled");
    assert.equal(missed[0].level, "warn");
    assert.equal(missed[0].fields?.step, "RegisterPlugin");
    assert.equal(nri.stats.syncs, 0);
  } finally {
    await nri.close();
    await rt.close();
  }
  assert.equal(nri.stats.state, "closed");
});

Deno.test("a runtime trickling the RegisterPlugin reply a byte at a time misses the deadline", async () => {
  // The whole 18-byte reply at 50 ms a byte takes 900 ms; the deadline is 500 ms.
  const reply = encodeFrames(2, encodeMessage(1, 2, Uint8Array.of(0x0a, 0x00)));
  const rt = listener(async (conn) => {
    const reading = drain(conn);
    await trickle(conn, reply, 50).catch(() => {});
    await reading;
  });
  const store = new MetadataStore();
  const { log } = recorder();
  const nri = startNriPlugin({ socketPath: rt.path, store, log, ...DEADLINES });
  try {
    assert.ok(await until(() => rt.accepted >= 2, 5000));
    assert.ok(nri.stats.deadlineMisses >= 1);
    assert.match(nri.stats.lastError ?? "", /RegisterPlugin/);
  } finally {
    await nri.close();
    await rt.close();
  }
});

Deno.test("a runtime that registers but trickles its Synchronize is dropped at the sync deadline", async () => {
  const rt = FakeRuntime.start();
  const store = new MetadataStore();
  const { log, lines } = recorder();
  const nri = startNriPlugin({ socketPath: rt.path, store, log, ...DEADLINES });
  try {
    const peer = await rt.accept();
    await peer.nextRequest(); // RegisterPlugin, answered at once by the fake
    assert.ok(await until(() => nri.stats.state === "registered", 1000), nri.stats.state);
    const sync = encodeFrames(
      1,
      encodeMessage(
        1,
        1,
        encodeRequestBody(
          PLUGIN_SERVICE,
          "Synchronize",
          nriTypes.SynchronizeRequest.encode({}).finish(),
        ),
      ),
    );
    const sending = (async () => {
      for (const b of sync) {
        await new Promise((r) => setTimeout(r, 60));
        await peer.write(Uint8Array.of(b));
      }
    })();
    assert.ok(await until(() => nri.stats.deadlineMisses === 1, 5000));
    assert.match(nri.stats.lastError ?? "", /Synchronize not completed .* 1500 ms/);
    const missed = lines.filter((l) => l.msg === "NRI runtime missed a deadline; reconnecting");
    assert.equal(missed[0]?.fields?.step, "Synchronize");
    // It reconnects; this time the runtime behaves and the plugin gets to "synced".
    const again = await rt.accept();
    await again.nextRequest();
    await again.handshake();
    assert.ok(await until(() => nri.stats.state === "synced", 2000), nri.stats.state);
    assert.equal(nri.stats.syncs, 1);
    await sending;
  } finally {
    await nri.close();
    await rt.close();
  }
});
