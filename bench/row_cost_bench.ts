/**
 * What the loop's per-row work costs warm and after a sleep, as a drain meets it: generated
 * records (the aggregate bench's stream, shaped like the agent's sched-pipe load: 2 CPUs, a few
 * processes, ~1.5 records per ms per CPU) go through the real aggregator, the join and packRows,
 * one 350 ms drain's worth at a time, back to back or after sleeping. The Worker, the ring and
 * the kernel are not in it: this is the part that per-row objects could change.
 * Run: node_modules/deno/deno run -A bench/row_cost_bench.ts
 */
import { SlotAggregator, type SlotRow } from "../lib/aggregate/mod.ts";
import { SlotJoiner } from "../lib/collect/join.ts";
import { packRows } from "../lib/output/row_batch.ts";
import { RECORD_SIZE as RECORD } from "../lib/sampler/record.ts";
import { Stream } from "./aggregate_bench.ts";

const MS = 1_000_000;
const DRAIN_CHUNKS = 3; // 100 ms chunks of records per drain (~0.35 s in the agent)

/** Per-row µs of `drains` drains, each after `sleepMs` (0: back to back); median and max. */
async function measure(sleepMs: number, drains: number): Promise<Record<string, unknown>> {
  const stream = new Stream(
    { name: "", cpus: 2, procs: 3, switchesPerMs: 0.5, seconds: 0 },
    3_600_000 * MS,
  );
  let pending: SlotRow[][] = [];
  const agg = new SlotAggregator({ intervalNs: MS, cpus: 2, onRows: (r) => pending.push(r) });
  const joiner = new SlotJoiner({ resolve: () => null });
  const perRow: number[] = [];
  let rows = 0, records = 0;
  // Records are generated outside the timed part: the drain finds them in the ring.
  const bufs: { view: DataView; n: number; now: number }[] = [];
  const fill = () => {
    bufs.length = 0;
    for (let c = 0; c < DRAIN_CHUNKS; c++) {
      const n = stream.fill();
      bufs.push({
        view: new DataView(stream.view.buffer.slice(0, n * RECORD)),
        n,
        now: stream.now,
      });
    }
  };
  for (let d = 0; d < drains + 20; d++) {
    fill();
    if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
    const t0 = performance.now();
    let n = 0;
    for (const b of bufs) {
      for (let i = 0, off = 0; i < b.n; i++, off += RECORD) agg.add(b.view, off);
      n += b.n;
    }
    agg.advance(BigInt(bufs[bufs.length - 1].now));
    let k = 0;
    for (const r of pending) {
      k += packRows(joiner.join(r)).batch.rows;
    }
    pending = [];
    const us = (performance.now() - t0) * 1000;
    if (d >= 20 && k > 0) { // the first 20 warm the JIT
      perRow.push(us / k);
      rows += k;
      records += n;
    }
  }
  perRow.sort((a, b) => a - b);
  return {
    "drain after": sleepMs === 0 ? "none (back to back)" : `${sleepMs} ms asleep`,
    drains: perRow.length,
    "records/drain": Math.round(records / perRow.length),
    "rows/drain": Math.round(rows / perRow.length),
    "µs/row median": +perRow[perRow.length >> 1].toFixed(2),
    "µs/row p90": +perRow[Math.floor(perRow.length * 0.9)].toFixed(2),
    "µs/row max": +perRow[perRow.length - 1].toFixed(2),
  };
}

/** Per-row cost of aggregation, join and packing: back to back, and after 10 ms, 350 ms, 1.8 s. */
export async function benchRowCost(quick = false): Promise<Record<string, unknown>[]> {
  const out = [await measure(0, quick ? 50 : 200)];
  for (const s of [10, 350, 1800]) out.push(await measure(s, quick ? 5 : s >= 1000 ? 10 : 20));
  return out;
}

if (import.meta.main) {
  console.table(await benchRowCost(Deno.args.includes("--quick")));
}
