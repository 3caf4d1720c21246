/** waitForData: woken by the ring's fill level, by its timeout, or by an abort. */
import assert from "@podperf/assert";
import { Sampler } from "../../lib/sampler/mod.ts";
import { makeCgroup, removeCgroup, spawnBusy, stop } from "./fixtures/busy_child.ts";

Deno.test("waitForData returns when the ring fills past wakeBytes, long before its timeout", async () => {
  const cg = makeCgroup("wait-fill");
  const s = Sampler.open({ ringBytes: 1 << 20, wakeBytes: 8192 });
  const child = spawnBusy(cg);
  try {
    s.drain(() => {});
    const t0 = performance.now();
    await s.waitForData(20_000);
    const ms = performance.now() - t0;
    console.log(`woken after ${ms.toFixed(1)} ms with ${s.pendingBytes()} bytes waiting`);
    assert.ok(ms < 5000, `waited ${ms} ms for 8 KiB of records`);
    assert.ok(s.pendingBytes() >= 8192 * 0.9, `woken with only ${s.pendingBytes()} bytes`);
  } finally {
    await stop(child);
    s.close();
    await removeCgroup(cg);
  }
});

Deno.test("waitForData returns after maxMs below the wake level, and at once on abort", async () => {
  const s = Sampler.open({ ringBytes: 16 << 20 }); // wakes at 4 MiB: not within 300 ms here
  try {
    s.drain(() => {});
    let t0 = performance.now();
    await s.waitForData(300);
    let ms = performance.now() - t0;
    assert.ok(ms >= 250 && ms < 3000, `timeout of 300 ms took ${ms} ms`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    t0 = performance.now();
    await s.waitForData(2000, ac.signal);
    ms = performance.now() - t0;
    assert.ok(ms < 1000, `abort after 50 ms returned after ${ms} ms`);
    // the worker's epoll_wait ends by its own timeout: let it, so no op leaks from this test
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    s.close();
  }
});

Deno.test("raiseDrainPriority puts every thread at SCHED_RR as root, or says what was refused", async () => {
  // in a child: the priority of this test runner's threads must not change. A thread the runtime
  // starts afterwards (the Worker) must inherit it.
  const code = `import { raiseDrainPriority } from "${
    new URL("../../lib/sampler/mod.ts", import.meta.url).href
  }";
const got = raiseDrainPriority();
const w = new Worker("data:text/javascript,postMessage(0)", { type: "module" });
await new Promise((r) => (w.onmessage = r));
const threads = [...Deno.readDirSync("/proc/self/task")].map((t) => {
  const f = Deno.readTextFileSync("/proc/self/task/" + t.name + "/stat").split(") ")[1].split(" ");
  return { policy: Number(f[38]) }; // stat field 41
});
w.terminate();
console.log(JSON.stringify({ got, threads }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-raw-imports", code],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { got, threads } = JSON.parse(new TextDecoder().decode(out.stdout).trim());
  if (Deno.uid() === 0) {
    assert.deepEqual(got, { policy: "rr", refused: [] });
    assert.ok(threads.length > 3, `only ${threads.length} threads seen`);
    for (const t of threads) {
      // round-robin, not FIFO: a spinning FIFO thread starves its peers of the same priority
      // (two collectors livelocked at SCHED_FIFO)
      assert.equal(t.policy, 2, `a thread with policy ${t.policy}: ${JSON.stringify(threads)}`);
    }
  } else {
    assert.notEqual(got.policy, "rr");
    assert.ok(got.refused.length > 0);
  }
});
