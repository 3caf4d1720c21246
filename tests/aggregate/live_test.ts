/** The aggregator fed by the real eBPF sampler, the way the collector drives it. */
import assert from "@podperf/assert";
import { SlotAggregator, type SlotRow } from "../../lib/aggregate/mod.ts";
import { monoNowNs, OFF, Sampler } from "../../lib/sampler/mod.ts";
import {
  makeCgroup,
  removeCgroup,
  schedstatNs,
  spawnBusy,
  stop,
} from "../sampler/fixtures/busy_child.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MS = 1_000_000;

Deno.test("live records become ordered slot rows that keep every ns and match the kernel", async () => {
  const cg = makeCgroup("aggregate");
  const sampler = Sampler.open();
  const child = spawnBusy(cg);
  const batches: SlotRow[][] = [];
  const agg = new SlotAggregator({
    intervalNs: MS,
    cpus: sampler.cpus.length,
    onRows: (rows) => batches.push(rows),
  });
  let cpuIn = 0;
  let childIn = 0;
  // slots touched by child records carrying more scheduler ns than their ktime span
  let denseSlots = 0;
  const take = (v: DataView, off: number) => {
    const ns = Number(v.getBigUint64(off + OFF.cpuNs, true));
    cpuIn += ns;
    if (v.getUint32(off + OFF.tgid, true) === child.pid) {
      childIn += ns;
      const span = Number(v.getBigUint64(off + OFF.spanNs, true));
      if (ns > 1.05 * span) denseSlots += Math.ceil(span / MS) + 1;
    }
    agg.add(v, off);
  };
  try {
    await sleep(200);
    const k0 = schedstatNs(child.pid);
    const mono0 = monoNowNs();
    for (let i = 0; i < 40; i++) {
      const now = monoNowNs(); // before the drain, as advance() requires
      sampler.drain(take);
      agg.advance(now);
      await sleep(50);
    }
    const k1 = schedstatNs(child.pid);
    await sleep(20);
    sampler.drain(take);
    agg.flush();
    const rows = batches.flat();
    const stats = agg.stats();
    console.log(
      `records ${stats.records}, rows ${rows.length}, late ${stats.lateRecords} ` +
        `(${stats.lateNs} ns), batches ${batches.length}`,
    );

    // every ns that came in went out, and the child's rows sit in its cgroup
    assert.equal(rows.reduce((s, r) => s + r.cpuNs, 0), cpuIn);
    const childRows = rows.filter((r) => r.tgid === child.pid);
    // (before the 200 ms warm-up it was still `nice` in our cgroup, about to exec and move)
    const settled = childRows.filter((r) => r.monoNs >= mono0);
    assert.ok(settled.length > 1000, `only ${settled.length} rows of the busy child`);
    assert.ok(settled.every((r) => r.cgroupId === cg.id && r.comm === "sh"));
    assert.equal(childRows.reduce((s, r) => s + r.cpuNs, 0), childIn);
    // its rows cover the 2 s it was measured for about as much as the kernel says it ran
    // (the rows also hold the 200 ms before and the tail after: a generous bound)
    const kernelNs = Number(k1 - k0);
    assert.ok(childIn >= kernelNs * 0.97, `rows ${childIn} ns < kernel ${kernelNs} ns`);
    // one thread cannot run more than one slot's length in a slot, unless late ns were folded
    // into it, or a record carried more scheduler ns than ktime passed (the scheduler began
    // charging the run from a stale rq clock, before the switch we saw)
    const over = childRows.filter((r) => r.cpuNs > 1.05 * MS);
    console.log(`rows over 1 ms: ${over.length}, slots of dense records: ${denseSlots}`);
    assert.ok(
      over.length <= stats.lateRecords + denseSlots,
      `${over.length} child rows exceed 1 ms`,
    );

    // rows arrive in slot order, and each (slot, tgid, cgroup) once
    const slots = rows.map((r) => r.monoNs);
    assert.ok(slots.every((s, i) => i === 0 || slots[i - 1] <= s), "rows out of slot order");
    assert.ok(slots.every((s) => s % BigInt(MS) === 0n));
    const keys = new Set(rows.map((r) => `${r.monoNs}/${r.tgid}/${r.cgroupId}`));
    assert.equal(keys.size, rows.length);
    // advance() closed slots while running, not only flush() at the end
    assert.ok(batches.length > 20, `only ${batches.length} batches`);
  } finally {
    await stop(child);
    sampler.close();
    await removeCgroup(cg);
  }
});
