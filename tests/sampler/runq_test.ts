/**
 * Run-queue delay: four busy loops pinned to one CPU, two per cgroup, each wait charged to
 * its own process as much as the scheduler's own figure (/proc/PID/task/*\/schedstat field 2).
 */
import assert from "@podperf/assert";
import { decodeRecord, monoNowNs, Sampler } from "../../lib/sampler/mod.ts";
import { makeCgroup, removeCgroup, spawnBusy, stop } from "./fixtures/busy_child.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run-queue wait of every thread of `pid`, ns (schedstat field 2 summed over tasks). */
function runqNs(pid: number): number {
  let sum = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    sum += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[1]);
  }
  return sum;
}

Deno.test("four busy loops on one CPU: each is charged its schedstat run-queue wait within 5%", async () => {
  const cpu = navigator.hardwareConcurrency - 1;
  const cgs = [makeCgroup("runq-a"), makeCgroup("runq-b")];
  // a ring that holds seconds of records: this test's drain runs at normal priority
  const s = Sampler.open({ ringBytes: 64 << 20 });
  const kids = [0, 1, 2, 3].map((i) => spawnBusy(cgs[i % 2], cpu));
  try {
    await sleep(300);
    const pids = new Set(kids.map((k) => k.pid));
    const sampled = new Map<number, number>(kids.map((k) => [k.pid, 0]));
    const waits = new Map<number, number>(kids.map((k) => [k.pid, 0]));
    // Each process's window starts and ends right where its schedstat is read: a wait can be
    // hundreds of ms, and one ending between the read and the window's edge counts on one
    // side only.
    const mono0 = new Map<number, bigint>(), mono1 = new Map<number, bigint>();
    const take = (v: DataView, off: number) => {
      const r = decodeRecord(v, off);
      // schedstat adds a wait when it ends; so does the record, at its run's start
      const waitEnd = r.tsNs - r.spanNs;
      if (!pids.has(r.tgid)) return;
      if (
        waitEnd <= (mono0.get(r.tgid) ?? 2n ** 63n) || waitEnd > (mono1.get(r.tgid) ?? 2n ** 63n)
      ) return;
      sampled.set(r.tgid, sampled.get(r.tgid)! + Number(r.runqNs));
      waits.set(r.tgid, waits.get(r.tgid)! + r.waits);
      assert.equal(r.cgroupId, cgs[kids.findIndex((k) => k.pid === r.tgid) % 2].id);
    };
    s.drain(() => {});
    const k0 = kids.map((k) => {
      mono0.set(k.pid, monoNowNs());
      return runqNs(k.pid);
    });
    const end = performance.now() + 4000;
    while (performance.now() < end) {
      await sleep(50);
      s.drain(take);
    }
    const k1 = kids.map((k) => {
      mono1.set(k.pid, monoNowNs());
      return runqNs(k.pid);
    });
    await sleep(30);
    s.drain(take);
    kids.forEach((k, i) => {
      const kernel = k1[i] - k0[i];
      const got = sampled.get(k.pid)!;
      const err = (got - kernel) / kernel;
      console.log(
        `pid ${k.pid}: schedstat wait ${(kernel / 1e6).toFixed(1)} ms, sampled ` +
          `${(got / 1e6).toFixed(1)} ms (${waits.get(k.pid)} waits), error ${
            (err * 100).toFixed(2)
          }%`,
      );
      assert.ok(kernel > 5e8, `pid ${k.pid} waited only ${kernel} ns in 4 s`);
      assert.ok(Math.abs(err) < 0.05, `pid ${k.pid}: sampled ${got} vs schedstat ${kernel} ns`);
      // how often each one waits is the scheduler's choice (EEVDF has given one of four a
      // handful of long waits in 4 s): each waited, and together they waited often
      assert.ok(waits.get(k.pid)! > 0, `pid ${k.pid}: no wait recorded`);
    });
    const allWaits = [...waits.values()].reduce((a, b) => a + b, 0);
    assert.ok(allWaits > 40, `${allWaits} waits recorded in all`);
  } finally {
    for (const k of kids) await stop(k);
    s.close();
    for (const c of cgs) await removeCgroup(c);
  }
});
