import assert from "@podperf/assert";
import {
  AggregateConfigError,
  SlotAggregator,
  type SlotAggregatorOptions,
  type SlotRow,
} from "../../lib/aggregate/mod.ts";
import { FLAG_CARRIED, FLAG_ONE_SLOT } from "../../lib/sampler/record.ts";
import { RecordBuilder, type RecordFields } from "./record_builder.ts";

const MS = 1_000_000;
const BASE = 5_000_000_000_000n; // ~83 min of uptime, a multiple of 1 ms
const ALL_VALID = 0x1f;

function setup(opts: Partial<SlotAggregatorOptions> = {}) {
  const rows: SlotRow[] = [];
  const batches: SlotRow[][] = [];
  const agg = new SlotAggregator({
    intervalNs: MS,
    cpus: 2,
    onRows: (r) => {
      batches.push(r);
      rows.push(...r);
    },
    ...opts,
  });
  const b = new RecordBuilder();
  const add = (...recs: RecordFields[]) => {
    for (const r of recs) {
      const off = b.push(r); // may grow the buffer: read the view after
      agg.add(b.view, off);
    }
  };
  return { agg, rows, batches, add };
}

const at = (ns: number) => BASE + BigInt(ns);
const sum = (rows: SlotRow[], f: (r: SlotRow) => number | null) =>
  rows.reduce((s, r) => s + (f(r) ?? 0), 0);

Deno.test("a stretch over three slots is split pro rata, counters summing exactly", () => {
  const { agg, rows, add } = setup();
  // [0.5 ms, 2.5 ms]: 0.5 ms, 1 ms, 0.5 ms
  add({
    ts: at(2.5 * MS),
    cpuNs: 2 * MS,
    tgid: 7,
    counters: [1001, 3, 0, 10, 1],
    flags: ALL_VALID,
  });
  agg.flush();
  assert.deepEqual(rows.map((r) => r.monoNs), [at(0), at(MS), at(2 * MS)]);
  assert.deepEqual(rows.map((r) => r.cpuNs), [0.5 * MS, MS, 0.5 * MS]);
  // cumulative rounding: round(1001·¼)=250, round(1001·¾)=751 → 250, 501, 250
  assert.deepEqual(rows.map((r) => r.cycles), [250, 501, 250]);
  assert.equal(sum(rows, (r) => r.instructions), 3);
  assert.equal(sum(rows, (r) => r.pageFaults), 10);
  assert.equal(sum(rows, (r) => r.contextSwitches), 1);
  assert.equal(sum(rows, (r) => r.llcMisses), 0);
  assert.ok(rows.every((r) => r.records === 1));
});

Deno.test("a stretch ending exactly on a slot edge stays in the slot before it", () => {
  const { agg, rows, add } = setup();
  add({ ts: at(MS), cpuNs: MS, tgid: 1, counters: [5], flags: 1 });
  add({ ts: at(MS), cpuNs: 0, tgid: 2, cpu: 1 });
  agg.flush();
  assert.deepEqual(
    rows.map((r) => [r.monoNs, r.tgid, r.cpuNs, r.cycles]),
    [[at(0), 1, MS, 5], [at(MS), 2, 0, null]],
  );
});

Deno.test("pro rata splitting keeps every sum exact over many random stretches", () => {
  const { agg, rows, add } = setup({ cpus: 4 });
  let seed = 42;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const now = [0, 0, 0, 0];
  let cpuIn = 0, cyclesIn = 0, faultsIn = 0;
  for (let i = 0; i < 20_000; i++) {
    const cpu = rand(4);
    const len = 1 + rand(3 * MS);
    now[cpu] += len;
    const cycles = rand(5_000_000), faults = rand(20);
    cpuIn += len, cyclesIn += cycles, faultsIn += faults;
    add({
      ts: at(now[cpu]),
      cpuNs: len,
      cpu,
      tgid: 100 + rand(50),
      counters: [cycles, 0, 0, faults],
      flags: 1 | 8,
    });
    if (i % 500 === 0) agg.advance(at(Math.min(...now)));
  }
  agg.flush();
  assert.equal(sum(rows, (r) => r.cpuNs), cpuIn);
  assert.equal(sum(rows, (r) => r.cycles), cyclesIn);
  assert.equal(sum(rows, (r) => r.pageFaults), faultsIn);
  assert.ok(rows.every((r) => Number.isInteger(r.cycles) && r.cpuNs <= 4 * MS));
  assert.equal(agg.stats().lateRecords, 0);
});

Deno.test("with one CPU idle, slots close through the clock after the lag", () => {
  const { agg, rows, add } = setup({ lagNs: 2 * MS });
  for (let t = 1; t <= 5; t++) add({ ts: at(t * MS), cpuNs: MS, tgid: 9, cpu: 0 });
  // CPU 1 never reported: only the clock can close anything
  agg.advance(at(5 * MS));
  assert.deepEqual(rows.map((r) => r.monoNs), [at(0), at(MS), at(2 * MS)]);
  agg.advance(at(5 * MS)); // nothing new
  assert.equal(rows.length, 3);
  agg.advance(at(7 * MS));
  assert.deepEqual(rows.map((r) => r.monoNs), [0, 1, 2, 3, 4].map((s) => at(s * MS)));
  assert.equal(agg.stats().openEntries, 0);
});

Deno.test("the default lag covers a whole tick, so a longer interval's open stretch is not late", () => {
  // 10 ms ticks: at 24 ms CPU 0 is inside the stretch [15, 25) that began at its last tick.
  const { agg, rows, add } = setup({ intervalNs: 10 * MS, cpus: 1 });
  add({ ts: at(15 * MS), cpuNs: 10 * MS, tgid: 1 });
  agg.advance(at(24 * MS));
  add({ ts: at(25 * MS), cpuNs: 10 * MS, tgid: 1 });
  agg.flush();
  assert.equal(agg.stats().lateRecords, 0);
  assert.deepEqual(rows.map((r) => [r.monoNs, r.cpuNs]), [
    [at(0), 5 * MS],
    [at(10 * MS), 10 * MS],
    [at(20 * MS), 5 * MS],
  ]);
});

Deno.test("with both CPUs busy, slots close through the slowest CPU's watermark", () => {
  const { agg, rows, add } = setup({ lagNs: 2 * MS });
  for (let t = 1; t <= 6; t++) add({ ts: at(t * MS), cpuNs: MS, tgid: 1, cpu: 0 });
  for (let t = 1; t <= 3; t++) add({ ts: at(t * MS), cpuNs: MS, tgid: 2, cpu: 1 });
  // the clock is no help (it reads before any of these): CPU 1 passed 3 ms, CPU 0 6 ms
  agg.advance(at(0));
  assert.deepEqual(
    rows.map((r) => [r.monoNs, r.tgid]),
    [[at(0), 1], [at(0), 2], [at(MS), 1], [at(MS), 2], [at(2 * MS), 1], [at(2 * MS), 2]],
  );
  add({ ts: at(4.5 * MS), cpuNs: 1.5 * MS, tgid: 2, cpu: 1 });
  agg.advance(at(0));
  assert.deepEqual(rows.slice(6).map((r) => [r.monoNs, r.tgid, r.cpuNs]), [
    [at(3 * MS), 1, MS],
    [at(3 * MS), 2, MS],
  ]);
});

Deno.test("a counter invalid in any contributing record makes the row's value null", () => {
  const { agg, rows, add } = setup();
  add({ ts: at(0.4 * MS), cpuNs: 0.4 * MS, tgid: 3, counters: [100, 200, 7, 1, 1], flags: 0x1f });
  // cycles and LLC invalid here (bits 0 and 2 clear)
  add({ ts: at(0.8 * MS), cpuNs: 0.4 * MS, tgid: 3, counters: [0, 300, 0, 2, 0], flags: 0x1a });
  add({ ts: at(0.9 * MS), cpuNs: 0.1 * MS, tgid: 4, counters: [0, 0, 0, 0, 0], flags: 0x1f });
  agg.flush();
  const [a, b] = rows;
  assert.equal(a.cycles, null);
  assert.equal(a.llcMisses, null);
  assert.equal(a.instructions, 500);
  assert.equal(a.pageFaults, 3);
  assert.equal(a.contextSwitches, 1);
  assert.equal(a.records, 2);
  // valid zeros stay zeros
  assert.deepEqual(
    [b.cycles, b.instructions, b.llcMisses, b.pageFaults, b.contextSwitches],
    [0, 0, 0, 0, 0],
  );
});

Deno.test("scaled is the OR of the contributing records' scaled bits", () => {
  const { agg, rows, add } = setup();
  add({ ts: at(0.5 * MS), cpuNs: 1000, tgid: 1, flags: 0x1f });
  add({ ts: at(0.6 * MS), cpuNs: 1000, tgid: 1, flags: 0x1f | (1 << 9) });
  add({ ts: at(0.7 * MS), cpuNs: 1000, tgid: 2, flags: 0x1f | (1 << 16) });
  agg.flush();
  assert.deepEqual(rows.map((r) => [r.tgid, r.scaled]), [[1, true], [2, false]]);
});

Deno.test("late records go to the oldest open slot and no ns are lost", () => {
  const { agg, rows, batches, add } = setup({ lagNs: 0 });
  add({ ts: at(3 * MS), cpuNs: MS, tgid: 1, cpu: 0, counters: [30], flags: 1 });
  agg.advance(at(3 * MS)); // closes slots 0..2 (nothing in 0, 1)
  assert.deepEqual(rows.map((r) => r.monoNs), [at(2 * MS)]);
  // CPU 1 wakes: a stretch entirely in closed slots, then one straddling the close edge
  add({ ts: at(1.5 * MS), cpuNs: MS, tgid: 2, cpu: 1, counters: [10], flags: 1 });
  add({ ts: at(3.5 * MS), cpuNs: 2 * MS, tgid: 3, cpu: 1, counters: [40], flags: 1 });
  add({ ts: at(3.8 * MS), cpuNs: 0.3 * MS, tgid: 1, cpu: 0 });
  agg.flush();
  assert.deepEqual(batches.map((b) => b.map((r) => r.monoNs)), [
    [at(2 * MS)],
    [at(3 * MS), at(3 * MS), at(3 * MS)],
  ]);
  const t2 = rows.find((r) => r.tgid === 2)!;
  const t3 = rows.find((r) => r.tgid === 3)!;
  assert.deepEqual([t2.cpuNs, t2.cycles], [MS, 10]);
  assert.deepEqual([t3.cpuNs, t3.cycles, t3.records], [2 * MS, 40, 1]);
  assert.equal(sum(rows, (r) => r.cpuNs), MS + MS + 2 * MS + 0.3 * MS);
  const s = agg.stats();
  assert.equal(s.lateRecords, 2);
  assert.equal(s.lateNs, MS + 1.5 * MS);
  assert.equal(s.records, 4);
});

Deno.test("thousands of processes per slot grow the table and keep every row", () => {
  const { agg, rows, add } = setup({ cpus: 1 });
  const procs = 5000;
  for (let slot = 0; slot < 3; slot++) {
    for (let p = 0; p < procs; p++) {
      add({
        ts: at(slot * MS + (p + 1) * 100),
        cpuNs: 100,
        tgid: 1000 + p,
        cgroupId: 2n ** 63n + BigInt(p % 7),
        counters: [p],
        flags: 1,
      });
    }
    agg.advance(at(0));
  }
  agg.flush();
  assert.equal(rows.length, 3 * procs);
  assert.ok(rows.every((r) => r.cpuNs === 100 && r.records === 1 && r.cycles === r.tgid - 1000));
  assert.ok(rows.every((r) => r.cgroupId === 2n ** 63n + BigInt((r.tgid - 1000) % 7)));
  assert.equal(new Set(rows.map((r) => `${r.monoNs}/${r.tgid}`)).size, 3 * procs);
  assert.equal(new Set(rows.map((r) => r.cgroupId)).size, 7);
  assert.equal(sum(rows, (r) => r.cpuNs), 3 * procs * 100);
});

Deno.test("comm is decoded from the first record of the row, NUL-trimmed and UTF-8", () => {
  const { agg, rows, add } = setup();
  const full = new TextEncoder().encode("exactly16bytes!!"); // no NUL terminator
  add({ ts: at(100), cpuNs: 10, tgid: 1, comm: "nginx" });
  add({ ts: at(200), cpuNs: 10, tgid: 1, pid: 2, comm: "nginx-worker" });
  add({ ts: at(300), cpuNs: 10, tgid: 3, comm: "prozeß-ü" });
  add({ ts: at(400), cpuNs: 10, tgid: 4, comm: full });
  add({ ts: at(MS + 1), cpuNs: 1, tgid: 1, comm: "nginx-worker" });
  agg.flush();
  assert.deepEqual(rows.map((r) => [r.tgid, r.comm]), [
    [1, "nginx"],
    [3, "prozeß-ü"],
    [4, "exactly16bytes!!"],
    [1, "nginx-worker"],
  ]);
});

Deno.test("rows come out in slot order across advances, arrival order within a slot", () => {
  // CPU 2 stays idle, so the clock decides what closes
  const { agg, rows, batches, add } = setup({ lagNs: 0, cpus: 3 });
  // slots arrive out of order (CPU 1 runs backwards); within a slot tgids arrive 5, 3, 9
  for (let t = 1; t <= 6; t++) {
    for (const tgid of [5, 3, 9]) {
      add({ ts: at(t * MS - 100 + tgid), cpuNs: 1, tgid, cpu: 0 });
      add({ ts: at((7 - t) * MS - 100 + tgid), cpuNs: 1, tgid: tgid + 100, cpu: 1 });
    }
  }
  add({ ts: at(6 * MS - 50), cpuNs: 1, tgid: 1, cpu: 1 });
  agg.advance(at(3 * MS));
  agg.advance(at(5 * MS));
  agg.flush();
  assert.equal(batches.length, 3);
  const slots = rows.map((r) => Number((r.monoNs - BASE) / BigInt(MS)));
  assert.deepEqual(slots, [...slots].sort((a, b) => a - b));
  assert.deepEqual(
    rows.filter((r) => r.monoNs === at(2 * MS)).map((r) => r.tgid),
    [5, 3, 9, 105, 103, 109],
  );
  assert.deepEqual(
    rows.filter((r) => r.monoNs === at(5 * MS)).map((r) => r.tgid),
    [105, 103, 109, 5, 3, 9, 1],
  );
  assert.equal(rows.length, 6 * 6 + 1);
});

Deno.test("timestamps beyond 2^53 ns and cgroup ids beyond 2^63 stay exact", () => {
  const { agg, rows, add } = setup();
  const slotStart = 2n ** 60n / 1_000_000n * 1_000_000n + 7_000_000n;
  add({ ts: slotStart + 300_001n, cpuNs: 300_000, tgid: 1, cgroupId: 2n ** 64n - 1n });
  add({ ts: slotStart + 1_000_001n, cpuNs: 700_000, tgid: 1, cgroupId: 2n ** 64n - 1n });
  agg.flush();
  assert.deepEqual(rows.map((r) => [r.monoNs, r.cpuNs]), [
    [slotStart, 300_000 + 699_999],
    [slotStart + 1_000_000n, 1],
  ]);
  assert.equal(rows[0].cgroupId, 2n ** 64n - 1n);
});

Deno.test("an absurdly long stretch is folded into a bounded number of slots", () => {
  const { agg, rows, add } = setup();
  add({ ts: at(100_000 * MS), cpuNs: 100_000 * MS, tgid: 1, counters: [1e9], flags: 1 });
  agg.flush();
  assert.ok(rows.length <= 4097);
  assert.equal(sum(rows, (r) => r.cpuNs), 100_000 * MS);
  assert.equal(sum(rows, (r) => r.cycles), 1e9);
});

Deno.test("records from a CPU beyond `cpus` are accepted and held back by its watermark", () => {
  const { agg, rows, add } = setup({ cpus: 1 });
  add({ ts: at(5 * MS), cpuNs: MS, tgid: 1, cpu: 0 });
  add({ ts: at(2 * MS), cpuNs: MS, tgid: 2, cpu: 1 });
  agg.advance(at(0));
  assert.deepEqual(rows.map((r) => r.tgid), [2]);
});

Deno.test("closed rows come in calls of at most rowsPerCall, in slot order, as one call would give them", () => {
  const grouped = setup({ rowsPerCall: 7 });
  const whole = setup({ rowsPerCall: 1_000 });
  for (const { add, agg } of [grouped, whole]) {
    for (let t = 1; t <= 10; t++) {
      for (let p = 0; p < 5; p++) add({ ts: at(t * MS), cpuNs: MS / 5, tgid: 100 + p });
    }
    agg.flush();
  }
  assert.deepEqual(whole.batches.map((b) => b.length), [50]);
  assert.deepEqual(grouped.batches.map((b) => b.length), [7, 7, 7, 7, 7, 7, 7, 1]);
  assert.deepEqual(grouped.rows, whole.rows);
  assert.deepEqual([grouped.agg.stats().rows, grouped.agg.stats().openEntries], [50, 0]);
  assert.equal(new SlotAggregator({ intervalNs: MS, cpus: 1, onRows: () => {} }).rowsPerCall, 256);
});

Deno.test("an onRows that throws leaves no closed entry behind", () => {
  const { agg, add } = setup({
    rowsPerCall: 2,
    onRows: () => {
      throw new Error("sink failed");
    },
  });
  for (let p = 0; p < 5; p++) add({ ts: at(MS), cpuNs: MS / 5, tgid: 100 + p });
  assert.throws(() => agg.flush(), /sink failed/);
  assert.equal(agg.stats().openEntries, 0);
});

Deno.test("bad options are refused with the option named", () => {
  const onRows = () => {};
  for (
    const [opts, option] of [
      [{ intervalNs: 0, cpus: 1, onRows }, "intervalNs"],
      [{ intervalNs: 1.5, cpus: 1, onRows }, "intervalNs"],
      [{ intervalNs: MS, cpus: 0, onRows }, "cpus"],
      [{ intervalNs: MS, cpus: 1, onRows, lagNs: -1 }, "lagNs"],
      [{ intervalNs: MS, cpus: 1, onRows, rowsPerCall: 0 }, "rowsPerCall"],
    ] as const
  ) {
    assert.throws(
      () => new SlotAggregator(opts),
      (e) => e instanceof AggregateConfigError && e.option === option,
    );
  }
  assert.equal(new SlotAggregator({ intervalNs: 1_000_000n, cpus: 1, onRows }).intervalNs, MS);
});

Deno.test("cpu ns are placed over the span, the run-queue wait before it, waits where they end", () => {
  const { agg, rows, add } = setup();
  // charged 1.5 ms over the span [1 ms, 2 ms] (the scheduler may charge more than ktime
  // passed), after waiting [0.25 ms, 1 ms]; a second record of the same run carries no wait
  add({
    ts: at(2 * MS),
    cpuNs: 1.5 * MS,
    spanNs: MS,
    runqNs: 0.75 * MS,
    tgid: 7,
    waits: 1,
  });
  add({ ts: at(2.5 * MS), cpuNs: 0.5 * MS, tgid: 7, flags: FLAG_CARRIED });
  agg.flush();
  assert.deepEqual(
    rows.map((r) => [r.monoNs, r.cpuNs, r.runqDelayNs, r.runqWaits, r.carried]),
    [
      [at(0), 0, 0.75 * MS, 0, false],
      [at(MS), 1.5 * MS, 0, 1, false],
      [at(2 * MS), 0.5 * MS, 0, 0, true],
    ],
  );
});

Deno.test("runs the kernel summed in one slot stay in that slot, waits and runs counted", () => {
  const { agg, rows, add } = setup({ lagNs: 0, cpus: 1 });
  // three runs of 0.2 ms in slot 3, each after a 0.1 ms wait: placed as one span with the
  // waits before it, [3.1 ms - 0.3 ms, 3.1 ms] would spill into slot 2; FLAG_ONE_SLOT keeps it
  add({
    ts: at(3.9 * MS),
    spanNs: 0.8 * MS,
    cpuNs: 0.6 * MS,
    runqNs: 0.3 * MS,
    waits: 3,
    runs: 3,
    tgid: 5,
    flags: FLAG_ONE_SLOT,
  });
  agg.advance(at(5 * MS));
  // the same, arriving after its slot closed: all of it goes to the oldest open slot
  add({
    ts: at(3.9 * MS),
    spanNs: 0.8 * MS,
    cpuNs: 0.6 * MS,
    runqNs: 0.3 * MS,
    waits: 2,
    runs: 2,
    tgid: 6,
    flags: FLAG_ONE_SLOT,
  });
  agg.flush();
  assert.deepEqual(
    rows.map((r) => [r.tgid, r.monoNs, r.cpuNs, r.runqDelayNs, r.runqWaits, r.records]),
    [
      [5, at(3 * MS), 0.6 * MS, 0.3 * MS, 3, 3],
      [6, at(5 * MS), 0.6 * MS, 0.3 * MS, 2, 2],
    ],
  );
  const st = agg.stats();
  assert.deepEqual([st.records, st.lateRecords, st.lateNs, st.lateRunqNs], [
    2,
    1,
    0.6 * MS,
    0.3 * MS,
  ]);
});

Deno.test("a wait that began in a closed slot is charged to the oldest open one, and counted", () => {
  const { agg, rows, add } = setup({ lagNs: 0, cpus: 1 });
  add({ ts: at(5 * MS), cpuNs: MS, tgid: 1 });
  agg.advance(at(5 * MS)); // slots 0-4 closed
  add({ ts: at(6 * MS), cpuNs: 0.5 * MS, runqNs: 3 * MS, tgid: 2, waits: 1 });
  agg.flush();
  const t2 = rows.filter((r) => r.tgid === 2);
  assert.equal(sum(t2, (r) => r.runqDelayNs), 3 * MS);
  assert.equal(sum(t2, (r) => r.runqWaits), 1);
  assert.ok(t2.every((r) => r.monoNs >= at(5 * MS)));
  assert.equal(agg.stats().lateRunqNs, 2.5 * MS);
});

Deno.test("the open-entry bound closes the oldest slots early and loses no ns", () => {
  const maxEntries = 2 * 4096 + 4 + 100; // room for about 100 entries
  const { agg, rows, add } = setup({ cpus: 1, maxEntries });
  let cpuIn = 0;
  for (let slot = 0; slot < 20; slot++) {
    for (let p = 0; p < 30; p++) {
      add({ ts: at(slot * MS + 1000 + p), cpuNs: 500, tgid: 1000 + p, runqNs: 100 });
      cpuIn += 500;
      assert.ok(agg.stats().openEntries < maxEntries);
    }
  }
  // a late record for a force-closed slot goes to the oldest open slot
  add({ ts: at(2 * MS), cpuNs: 500, tgid: 1 });
  cpuIn += 500;
  agg.flush();
  const s = agg.stats();
  assert.ok(s.forcedCloses > 0, "the bound was never reached");
  assert.ok(s.lateRecords >= 1);
  assert.equal(sum(rows, (r) => r.cpuNs), cpuIn);
  assert.equal(sum(rows, (r) => r.runqDelayNs), 600 * 100);
  assert.equal(new Set(rows.map((r) => `${r.monoNs}/${r.tgid}`)).size, rows.length);
});

Deno.test("the comm cache stays bounded under name churn and still decodes every name", () => {
  const { agg, rows, add } = setup({ cpus: 1, commCacheSize: 16 });
  for (let i = 0; i < 200; i++) add({ ts: at(i * 10 + 1), cpuNs: 1, tgid: i, comm: `proc-${i}` });
  agg.flush();
  assert.deepEqual(rows.map((r) => r.comm), Array.from({ length: 200 }, (_, i) => `proc-${i}`));
});

Deno.test("a record naming an absurd CPU is aggregated but cannot grow the watermarks", () => {
  const { agg, rows, add } = setup({ cpus: 1, lagNs: 0 });
  add({ ts: at(MS), cpuNs: MS, tgid: 1, cpu: 4_000_000_000 });
  add({ ts: at(3 * MS), cpuNs: MS, tgid: 2, cpu: 0 });
  agg.advance(at(0));
  assert.equal(agg.stats().badCpuRecords, 1);
  // CPU 0 alone decides (an array of 4 billion watermarks would have thrown): up to 3 ms
  assert.deepEqual(rows.map((r) => r.tgid), [1, 2]);
});

Deno.test("with startNs, a wait that began before the sampling did is charged from its slot on", () => {
  const { agg, rows, add } = setup({ cpus: 1, startNs: at(10 * MS + 300_000) });
  // a task that waited 200 ms (the collector's start-up held its CPU), ran 0.5 ms after start
  add({ ts: at(11 * MS), cpuNs: 0.5 * MS, spanNs: 0.5 * MS, runqNs: 200 * MS, tgid: 3, waits: 1 });
  agg.flush();
  assert.ok(rows.every((r) => r.monoNs >= at(10 * MS)), "a row lies before the sampling");
  assert.equal(sum(rows, (r) => r.runqDelayNs), 200 * MS);
  assert.equal(sum(rows, (r) => r.cpuNs), 0.5 * MS);
  assert.equal(sum(rows, (r) => r.runqWaits), 1);
  assert.equal(agg.stats().lateRecords, 0);
});
