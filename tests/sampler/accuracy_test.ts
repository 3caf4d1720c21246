/**
 * CPU time the kernel agrees with: per cgroup, the sampler's cpu_ns sums to what cgroup2
 * cpu.stat charged, for tasks that sleep and wake thousands of times a second (where stretches
 * of ktime between sched_switch events fall 8–28% short of the scheduler's own figure).
 */
import assert from "@podperf/assert";
import { cgroupUsageNs } from "../e2e/cgroup_usage.ts";
import { FLAG_UNSEEN, monoNowNs, NR_COUNTERS, OFF, Sampler } from "../../lib/sampler/mod.ts";
import { makeCgroup, removeCgroup } from "./fixtures/busy_child.ts";
import { type CgroupLoad, confineSelf, pingPongBinary, spawnInCgroup } from "./fixtures/loads.ts";
import { chargeInWindow } from "./fixtures/window.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("per-cgroup cpu_ns of sleep/wake ping-pong pairs is within 2% of cpu.stat", async () => {
  const bin = await pingPongBinary();
  const usleep = makeCgroup("usleep-pair");
  const pipe = makeCgroup("pipe-pair");
  const cgs = [usleep, pipe];
  const loads: CgroupLoad[] = [];
  // a ring that holds seconds of records: this test's drain runs at normal priority
  const s = Sampler.open({ ringBytes: 64 << 20 });
  try {
    loads.push(spawnInCgroup(usleep.path, [bin, "50"]));
    loads.push(spawnInCgroup(pipe.path, ["perf", "bench", "sched", "pipe", "-l", "2000000000"]));
    await sleep(500);
    const windows = await sampleWindows(s, cgs, 8000);
    cgs.forEach((c, i) => {
      const { sampledNs: sampled, kernelNs: kernel } = windows[i];
      const err = (sampled - kernel) / kernel;
      console.log(
        `${c.path.split("/").pop()}: cpu.stat ${(kernel / 1e6).toFixed(1)} ms, ` +
          `sampled ${(sampled / 1e6).toFixed(1)} ms, error ${(err * 100).toFixed(2)}%`,
      );
      assert.ok(kernel > 2e8, `${c.path} ran only ${kernel} ns in 8 s`);
      assert.ok(Math.abs(err) < 0.02, `${c.path}: sampled ${sampled} vs cpu.stat ${kernel} ns`);
    });
    // (a full ring only coarsens placement: carried records keep the ns on the same CPU)
    console.log(`lost (carried) records: ${s.stats().lost}`);
  } finally {
    s.close();
    for (const l of loads) await l.stop();
    for (const c of cgs) await removeCgroup(c);
  }
});

/** What one cgroup's records said over a window, next to what cpu.stat charged in it. */
interface CgroupWindow {
  records: number;
  runs: number;
  /** records of runs no switch showed begin, and those of them that claimed a counter */
  unseen: number;
  unseenWithCounters: number;
  sampledNs: number;
  kernelNs: number;
  /** takes the window's records of a drain after it (they count only within the window) */
  take: (v: DataView, off: number) => void;
}

/**
 * Drains `s` every 50 ms for `ms`, keeping each of `cgs`' records and its cpu.stat delta over
 * the same window (one window per cgroup, in order).
 */
async function sampleWindows(
  s: Sampler,
  cgs: { id: bigint; path: string }[],
  ms: number,
): Promise<CgroupWindow[]> {
  let mono0 = 0n, mono1 = 2n ** 63n;
  const byId = new Map<bigint, CgroupWindow>();
  const take = (v: DataView, off: number) => {
    const w = byId.get(v.getBigUint64(off + OFF.cgroupId, true));
    if (!w) return;
    w.records++;
    w.runs += v.getUint32(off + OFF.runs, true);
    const flags = v.getUint32(off + OFF.flags, true);
    if (flags & FLAG_UNSEEN) {
      w.unseen++;
      if (flags & ((1 << NR_COUNTERS) - 1)) w.unseenWithCounters++;
    }
    w.sampledNs += chargeInWindow(
      v.getBigUint64(off + OFF.tsNs, true),
      v.getBigUint64(off + OFF.spanNs, true),
      v.getBigUint64(off + OFF.cpuNs, true),
      mono0,
      mono1,
    );
  };
  const windows = cgs.map((cg) => {
    const w: CgroupWindow = {
      records: 0,
      runs: 0,
      unseen: 0,
      unseenWithCounters: 0,
      sampledNs: 0,
      kernelNs: 0,
      take,
    };
    byId.set(cg.id, w);
    return w;
  });
  s.drain(() => {});
  mono0 = monoNowNs();
  const k0 = cgs.map((cg) => cgroupUsageNs(cg.path));
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await sleep(50);
    s.drain(take);
  }
  const k1 = cgs.map((cg) => cgroupUsageNs(cg.path));
  mono1 = monoNowNs();
  await sleep(30);
  s.drain(take);
  windows.forEach((w, i) => (w.kernelNs = k1[i] - k0[i]));
  return windows;
}

/**
 * Logs a window and asserts it: the load ran at least `minNs`, the kernel summed runs at least
 * 4 to a record (or, given `perSlot`, wrote at most 3 records per process and slot), and the
 * sampled ns agree with cpu.stat within 2%.
 */
function assertSummed(
  label: string,
  w: CgroupWindow,
  minNs: number,
  perSlot?: { processes: number; slots: number },
) {
  const err = (w.sampledNs - w.kernelNs) / w.kernelNs;
  console.log(
    `${label}: ${w.runs} runs in ${w.records} records; cpu.stat ${(w.kernelNs / 1e6).toFixed(1)} ` +
      `ms, sampled ${(w.sampledNs / 1e6).toFixed(1)} ms, error ${(err * 100).toFixed(2)}%`,
  );
  assert.ok(w.kernelNs > minNs, `${label} ran only ${w.kernelNs} ns`);
  if (perSlot) {
    // A record per process and slot, give or take a run across a slot edge: a bound that holds
    // however fast the host runs the load, where runs per record fall with its switch rate
    // (189 k runs in 3 s on a slow CI run against 1.57 M: 3.5 runs a record).
    const bound = 3 * perSlot.processes * perSlot.slots;
    // below it, a record per run would pass the bound too
    assert.ok(w.runs > bound, `only ${w.runs} runs in ${perSlot.slots} slots: too sparse to tell`);
    assert.ok(
      w.records <= bound,
      `${w.records} records for ${perSlot.processes} processes in ${perSlot.slots} slots`,
    );
  } else assert.ok(w.records * 4 < w.runs, `${w.records} records for ${w.runs} runs`);
  assert.ok(Math.abs(err) < 0.02, `sampled ${w.sampledNs} vs cpu.stat ${w.kernelNs} ns`);
}

Deno.test("a pipe pair pinned to one CPU: the kernel sums each process's runs per slot, every ns kept", async () => {
  // A and B switch straight to each other tens of times a millisecond: one record per process
  // and slot instead of one per switch, and the sums still agree with cpu.stat.
  const cg = makeCgroup("pinned-pipe");
  const s = Sampler.open({ ringBytes: 64 << 20 });
  const load = spawnInCgroup(cg.path, ["perf", "bench", "sched", "pipe", "-l", "2000000000"], "0");
  let last = s;
  try {
    await sleep(500);
    const [w] = await sampleWindows(s, [cg], 4000);
    // CPU 0 holds the pair's runs of its current slot when the programs go: the last drain
    // gets them from the CPU's state. This process keeps off CPU 0 meanwhile, since a switch to
    // the collector's own threads sends what the CPU held. So does a run across a slot edge (a
    // neighbour busy on CPU 0 is one at each tick) or one that began unseen, and the CPU may
    // hold nothing at that instant: another sampler tries again (a second pair busy on CPU 0
    // left the first try nothing in 2 runs of 20).
    const helds: number[] = [];
    for (let attempt = 1;; attempt++) {
      if (attempt > 1) {
        last = Sampler.open({ ringBytes: 64 << 20 });
        await sleep(300);
      }
      const release = confineSelf("1");
      try {
        await sleep(20);
        last.detach();
      } finally {
        release();
      }
      let handed = 0;
      last.drain((v, off) => (handed++, w.take(v, off)));
      const held = last.stats().heldAtDetach;
      helds.push(held);
      if (held > 0) {
        console.log(`runs held at detach, per try: [${helds}]`);
        assert.ok(handed >= held, `${handed} records in the last drain, ${held} held`);
        break;
      }
      assert.ok(attempt < 3, `nothing was held at detach in 3 tries: [${helds}]`);
      if (last !== s) last.close();
    }
    assertSummed("pinned pipe pair", w, 1e9);
  } finally {
    s.close();
    last.close();
    await load.stop();
    await removeCgroup(cg);
  }
});

Deno.test("runs that began at a switch the tracepoint did not show are charged the scheduler's cpu_ns, counters null", async () => {
  // This VM's kernel never shows the switch-out of its own agent's threads: the task that runs
  // next begins unseen (about one faulter run in ten in counters_test.ts). Here the sampler
  // hides every switch away from one process of a pipe pair pinned to one CPU (hideTgid), so
  // each run of the other, moved to a cgroup of its own, begins unseen. The scheduler's own
  // figure for the run (se.prev_sum_exec_runtime, set when it was picked) keeps every ns.
  const hider = makeCgroup("hider");
  const victim = makeCgroup("victim");
  const load = spawnInCgroup(
    hider.path,
    ["perf", "bench", "sched", "pipe", "-l", "2000000000"],
    "0",
  );
  let s: Sampler | undefined;
  try {
    const other = await forkedChild(load.pid);
    Deno.writeTextFileSync(`${victim.path}/cgroup.procs`, String(other));
    s = Sampler.open({ ringBytes: 64 << 20, hideTgid: load.pid });
    await sleep(300);
    const [w] = await sampleWindows(s, [victim], 3000);
    const err = (w.sampledNs - w.kernelNs) / w.kernelNs;
    console.log(
      `hidden switches: ${w.records} records, ${w.unseen} began unseen, ${s.stats().unseen} ` +
        `unseen runs in all; cpu.stat ${(w.kernelNs / 1e6).toFixed(1)} ms, sampled ` +
        `${(w.sampledNs / 1e6).toFixed(1)} ms, error ${(err * 100).toFixed(2)}%`,
    );
    assert.ok(w.kernelNs > 5e8, `the victim ran only ${w.kernelNs} ns`);
    // every run of the victim began unseen; a tick inside one charges the rest of it as seen
    assert.ok(w.unseen * 2 > w.records, `${w.unseen} unseen of ${w.records} records`);
    assert.equal(w.unseenWithCounters, 0, "a run that began unseen claimed counter deltas");
    assert.ok(s.stats().unseen >= BigInt(w.unseen));
    assert.ok(Math.abs(err) < 0.02, `sampled ${w.sampledNs} vs cpu.stat ${w.kernelNs} ns`);
  } finally {
    s?.close();
    await load.stop();
    try {
      Deno.writeTextFileSync(`${victim.path}/cgroup.kill`, "1");
    } catch { /* already gone */ }
    await removeCgroup(victim);
    await removeCgroup(hider);
  }
});

/** The pid of the first child `pid` forked (perf bench's second process), within 2 s. */
async function forkedChild(pid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
      if (kids) return Number(kids.split(" ")[0]);
    } catch { /* not yet */ }
    await sleep(20);
  }
  throw new Error(`process ${pid} forked no child in 2 s`);
}

Deno.test("eight processes contending for one CPU: each slot holds a record per process, not per run", async () => {
  // Four pipe pairs pinned to one CPU: eight processes share every slot. With room for four held
  // runs, each process coming back in a slot found its run sent, and the CPU wrote a record per
  // run (1.47 M records for 1.52 M runs in 3 s); with room for eight, 41 k records for 1.57 M.
  const cg = makeCgroup("eight-on-one");
  const s = Sampler.open({ ringBytes: 64 << 20 });
  const pipe = ["perf", "bench", "sched", "pipe", "-l", "2000000000"];
  const loads = [0, 1, 2, 3].map(() => spawnInCgroup(cg.path, pipe, "0"));
  try {
    await sleep(500);
    const t0 = performance.now();
    const [w] = await sampleWindows(s, [cg], 3000);
    // the slots the window's drains can hold records of: its length, its last drain included
    const slots = Math.ceil(performance.now() - t0);
    assertSummed("8 processes on one CPU", w, 1e9, { processes: 8, slots });
  } finally {
    s.close();
    for (const l of loads) await l.stop();
    await removeCgroup(cg);
  }
});

Deno.test("an unpinned pipe pair: runs a CPU held when it went idle reach the next drain, summed, every ns kept", async () => {
  // Each CPU idles between most of the pair's runs. It keeps what it holds across the idle and
  // the drain has it sent once its slot has ended (flush_ended): a few records per slot, and
  // after the pair is gone and the CPUs idle, nothing is left behind.
  const cg = makeCgroup("idle-pipe");
  const s = Sampler.open({ ringBytes: 64 << 20 });
  let load: CgroupLoad | undefined = spawnInCgroup(cg.path, [
    "perf",
    "bench",
    "sched",
    "pipe",
    "-l",
    "2000000000",
  ]);
  try {
    let sampled = 0, records = 0, runs = 0;
    const take = (v: DataView, off: number) => {
      if (v.getBigUint64(off + OFF.cgroupId, true) !== cg.id) return;
      records++;
      runs += v.getUint32(off + OFF.runs, true);
      sampled += Number(v.getBigUint64(off + OFF.cpuNs, true));
    };
    const end = performance.now() + 3000;
    while (performance.now() < end) {
      await sleep(50);
      s.drain(take);
    }
    await load.stop();
    load = undefined;
    const kernel = cgroupUsageNs(cg.path);
    // the CPUs idle now; the pair's last runs are held until a drain has them sent
    await sleep(200);
    s.drain(take);
    const err = (sampled - kernel) / kernel;
    console.log(
      `unpinned pipe pair: ${runs} runs in ${records} records; cpu.stat ${
        (kernel / 1e6).toFixed(1)
      } ms, sampled ${(sampled / 1e6).toFixed(1)} ms, error ${(err * 100).toFixed(3)}%; ` +
        `flush errors ${s.stats().flushErrors}`,
    );
    assert.ok(kernel > 5e8, `the pair ran only ${kernel} ns in 3 s`);
    // one record per switch to idle was about 1 in 4 runs; summed across idles, far fewer
    assert.ok(records * 10 < runs, `${records} records for ${runs} runs`);
    assert.equal(s.stats().flushErrors, 0);
    // the whole life of the cgroup: every ns it was charged is in a record, none twice
    assert.ok(Math.abs(err) < 0.005, `sampled ${sampled} vs cpu.stat ${kernel} ns`);
  } finally {
    s.close();
    await load?.stop();
    await removeCgroup(cg);
  }
});
