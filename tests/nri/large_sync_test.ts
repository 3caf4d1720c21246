/**
 * A 100 k-container Synchronize (a huge node, or an attacker's runtime) is applied in linear time
 * and in chunks: the event loop keeps turning, and closing the plugin mid-apply ends at once.
 * A fake runtime sends it (tests/nri/fake_runtime.ts): no test machine runs 100 k containers.
 */
import assert from "@podperf/assert";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { nriTypes } from "../../lib/nri/proto.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { recorder } from "./log_recorder.ts";

const N = 100_000;
const CHUNK = 20_000;

/** Split-sync chunks (NRI v0.7+) of N containers of one pod; cgroups that do not exist. */
function chunks(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let start = 0; start < N; start += CHUNK) {
    const containers = [];
    for (let i = start; i < Math.min(N, start + CHUNK); i++) {
      containers.push({
        id: `c${i}`.padEnd(64, "0"),
        podSandboxId: "p".padEnd(64, "0"),
        name: `ctr-${i}`,
        state: 3,
        linux: { cgroupsPath: `/podperf-large-sync-absent/c${i}` },
      });
    }
    const pods = start === 0
      ? [{ id: "p".padEnd(64, "0"), name: "big", namespace: "ns", uid: "u", pid: 0 }]
      : [];
    out.push(
      nriTypes.SynchronizeRequest.encode({ pods, containers, more: start + CHUNK < N }).finish(),
    );
  }
  return out;
}

/** Largest gap between 5 ms ticks while `work` runs. */
async function maxLoopGap(work: () => Promise<void>): Promise<number> {
  let last = performance.now(), max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return max;
}

Deno.test("a 100 k-container Synchronize is applied in chunks that let the loop turn", async () => {
  const rt = FakeRuntime.start();
  const store = new MetadataStore();
  const { log } = recorder();
  const nri = startNriPlugin({ socketPath: rt.path, store, log });
  try {
    const peer = await rt.accept();
    await peer.nextRequest();
    await peer.call(
      "Configure",
      nriTypes.ConfigureRequest.encode({ runtimeName: "fake", runtimeVersion: "0" }).finish(),
    );
    const parts = chunks();
    const t0 = performance.now();
    const gap = await maxLoopGap(async () => {
      for (const p of parts) await peer.call("Synchronize", p);
      await nri.synchronized;
    });
    const ms = performance.now() - t0;
    console.log(
      `100 k containers: synced in ${ms.toFixed(0)} ms, longest loop stall ${gap.toFixed(0)} ms`,
    );
    // Quadratic eviction took minutes; one synchronous apply stalled the loop for seconds.
    assert.ok(gap < 1000, `the loop stalled for ${gap.toFixed(0)} ms`);
    assert.equal(store.size, store.maxEntries, "the store is full, not beyond");
    assert.ok(store.getByContainerId(`c${N - 1}`.padEnd(64, "0")), "the newest entries are kept");
  } finally {
    await nri.close();
    await rt.close();
  }
});

Deno.test("closing the plugin while a huge Synchronize is applied ends at once", async () => {
  const rt = FakeRuntime.start();
  const store = new MetadataStore();
  const { log } = recorder();
  const nri = startNriPlugin({ socketPath: rt.path, store, log });
  try {
    const peer = await rt.accept();
    await peer.nextRequest();
    for (const p of chunks()) await peer.call("Synchronize", p);
    // The reply is out; the apply has begun in the background.
    await new Promise((r) => setTimeout(r, 20));
    const before = store.size;
    assert.ok(before < N, `apply still running (store has ${before})`);
    const t0 = performance.now();
    await nri.close();
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `close took ${ms.toFixed(0)} ms`);
    const after = store.size;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.size, after, "no store work after close");
    assert.equal(nri.stats.syncs, 0);
  } finally {
    await nri.close();
    await rt.close();
  }
});
