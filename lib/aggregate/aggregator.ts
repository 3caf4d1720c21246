/**
 * SlotAggregator: sampler records → one SlotRow per (slot, tgid, cgroup id), closing a slot
 * once every CPU has passed it.
 */
import { NR_COUNTERS, OFF } from "../sampler/record.ts";
import { CommCache } from "./comm_cache.ts";
import { SlotTable } from "./slot_table.ts";
import type { SlotRow } from "./slot_row.ts";

// module constants rather than property loads on the hot path
const {
  tsNs: OFF_TS,
  cgroupId: OFF_CGROUP,
  cpuNs: OFF_CPU_NS,
  counters: OFF_COUNTERS,
  tgid: OFF_TGID,
  cpu: OFF_CPU,
  flags: OFF_FLAGS,
  comm: OFF_COMM,
} = OFF;
const TWO_32 = 4294967296;
const VALID_MASK = 0x1f;
/**
 * A stretch longer than this many slots (a stalled CPU, a corrupt record) has its head
 * charged to its earliest kept slot: the ns are kept, only their placement is coarsened,
 * and one record cannot make the aggregator walk millions of slots.
 */
const MAX_SLOTS_PER_RECORD = 4096;

/** The aggregator was configured with values it cannot work with. */
export class AggregateConfigError extends Error {
  override name = "AggregateConfigError";
  constructor(readonly option: string, readonly value: unknown, message: string) {
    super(message);
  }
}

/** Options of a SlotAggregator. */
export interface SlotAggregatorOptions {
  /** slot length in ns (1 ms = 1_000_000) */
  intervalNs: number | bigint;
  /** CPUs that may emit records (watermarks are kept per CPU; more are added if seen) */
  cpus: number;
  /** receives closed rows, in slot order, once per advance()/flush() that closes any */
  onRows: (rows: SlotRow[]) => void;
  /**
   * how far behind the drain's start time a CPU that emitted nothing is assumed to have
   * passed: a busy CPU's open stretch began at its last tick, up to one interval ago, and
   * records are committed within microseconds of their ts; default one interval + 1 ms
   */
  lagNs?: number;
}

/** Running totals of one cgroup over the aggregator's life, from closed rows. */
export interface CgroupTotals {
  cpuNs: number;
  /** sum of cycles over rows where cycles were known */
  cycles: number;
  /** cpu ns of rows whose cycles were null */
  cpuNsWithoutCycles: number;
  rows: number;
}

/** Counts for health reporting. */
export interface AggregatorStats {
  records: number;
  /** records whose stretch began in an already closed slot */
  lateRecords: number;
  /** cpu ns of those parts, charged to the oldest open slot instead */
  lateNs: number;
  rows: number;
  openEntries: number;
}

/**
 * Aggregates 96-byte sampler records into one row per (slot, tgid, cgroup id). Rows come out
 * in slot order; within a slot, in the order their first record arrived.
 *
 * A record's stretch [ts − cpu_ns, ts] is split pro rata over the slots it covers: cpu ns
 * exactly, counters by cumulative rounding so the pieces sum to the record's value.
 *
 * Late records: a part of a stretch that falls into an already closed slot is charged to the
 * oldest open slot (and counted in `lateRecords`/`lateNs`). This keeps rows in slot order and
 * unique per key, and loses no ns; the price is that those ns are placed a little later.
 *
 * @example
 * const agg = new SlotAggregator({ intervalNs: 1_000_000, cpus: 2, onRows: (r) => out.push(...r) });
 * const now = monoNowNs(); // lib/sampler/clock.ts, read before draining
 * sampler.drain((view, off) => agg.add(view, off));
 * agg.advance(now);
 */
export class SlotAggregator {
  readonly intervalNs: number;
  readonly lagNs: number;
  #onRows: (rows: SlotRow[]) => void;
  #table = new SlotTable();
  #comms = new CommCache();
  #watermark: Float64Array;
  // Times are kept as ns relative to #base (a multiple of the interval, from the first
  // record) so they stay exact doubles however long the node has been up.
  #base = 0n;
  #baseLo = 0;
  #baseHi = 0;
  #haveBase = false;
  /** every slot below this number is closed */
  #closedBefore = -Infinity;
  /** the current record's counter values */
  #values = new Float64Array(NR_COUNTERS);
  /** cumulative counter pieces already placed while splitting */
  #assigned = new Float64Array(NR_COUNTERS);
  #totals = new Map<bigint, CgroupTotals>();
  #records = 0;
  #lateRecords = 0;
  #lateNs = 0;
  #rows = 0;

  /** Creates an aggregator; rows are delivered through `onRows`. */
  constructor(opts: SlotAggregatorOptions) {
    const interval = Number(opts.intervalNs);
    if (!Number.isSafeInteger(interval) || interval <= 0) {
      throw new AggregateConfigError(
        "intervalNs",
        opts.intervalNs,
        `intervalNs must be a positive integer, got ${opts.intervalNs}`,
      );
    }
    if (!Number.isSafeInteger(opts.cpus) || opts.cpus <= 0) {
      throw new AggregateConfigError("cpus", opts.cpus, `cpus must be ≥ 1, got ${opts.cpus}`);
    }
    const lag = opts.lagNs ?? interval + 1_000_000;
    if (!Number.isFinite(lag) || lag < 0) {
      throw new AggregateConfigError("lagNs", opts.lagNs, `lagNs must be ≥ 0, got ${lag}`);
    }
    this.intervalNs = interval;
    this.lagNs = lag;
    this.#onRows = opts.onRows;
    this.#watermark = new Float64Array(opts.cpus).fill(-Infinity);
  }

  /** Adds the record at byte `off` of `view`. The hot path: allocates nothing. */
  add(view: DataView, off: number): void {
    const tsLo = view.getUint32(off + OFF_TS, true);
    const tsHi = view.getUint32(off + OFF_TS + 4, true);
    if (!this.#haveBase) this.#setBase(tsLo, tsHi);
    const end = (tsHi - this.#baseHi) * TWO_32 + (tsLo - this.#baseLo);
    const cpuNs = view.getUint32(off + OFF_CPU_NS, true) +
      view.getUint32(off + OFF_CPU_NS + 4, true) * TWO_32;
    const cpu = view.getUint32(off + OFF_CPU, true);
    if (cpu >= this.#watermark.length) this.#addCpus(cpu + 1);
    if (end > this.#watermark[cpu]) this.#watermark[cpu] = end;
    const flags = view.getUint32(off + OFF_FLAGS, true);
    const valid = flags & VALID_MASK;
    const scaled = (flags >>> 8) & VALID_MASK;
    const tgid = view.getUint32(off + OFF_TGID, true);
    const cgLo = view.getUint32(off + OFF_CGROUP, true);
    const cgHi = view.getUint32(off + OFF_CGROUP + 4, true);
    const values = this.#values;
    for (let i = 0, o = off + OFF_COUNTERS; i < NR_COUNTERS; i++, o += 8) {
      values[i] = view.getUint32(o, true) + view.getUint32(o + 4, true) * TWO_32;
    }
    this.#records++;

    const interval = this.intervalNs;
    const start = end - cpuNs;
    let first = Math.floor(start / interval);
    const last = Math.max(
      cpuNs > 0 ? Math.floor((end - 1) / interval) : first,
      this.#closedBefore,
    );
    if (first < this.#closedBefore) {
      this.#lateRecords++;
      this.#lateNs += Math.min(end, this.#closedBefore * interval) - start;
      first = this.#closedBefore;
    }
    if (first < last - MAX_SLOTS_PER_RECORD) first = last - MAX_SLOTS_PER_RECORD;
    const table = this.#table;

    if (first === last) {
      const e = table.findOrInsert(first, tgid, cgLo, cgHi, view, off + OFF_COMM);
      this.#accumulate(table, e, cpuNs, valid, scaled);
      return;
    }

    // Split: slot `first` takes everything from `start` (including any clamped head), each
    // later slot its overlap. Counter pieces are differences of rounded cumulative shares,
    // so they are integers and add up to the record's value exactly.
    const assigned = this.#assigned;
    assigned.fill(0);
    let segStart = start;
    let cum = 0;
    for (let s = first; s <= last; s++) {
      const segEnd = s === last ? end : (s + 1) * interval;
      const piece = segEnd - segStart;
      cum += piece;
      const e = table.findOrInsert(s, tgid, cgLo, cgHi, view, off + OFF_COMM);
      const base = e * NR_COUNTERS;
      const counters = table.counters;
      for (let i = 0; i < NR_COUNTERS; i++) {
        const upTo = s === last ? values[i] : Math.round(values[i] * cum / cpuNs);
        counters[base + i] += upTo - assigned[i];
        assigned[i] = upTo;
      }
      table.cpuNs[e] += piece;
      table.valid[e] &= valid;
      table.scaled[e] |= scaled;
      table.records[e]++;
      segStart = segEnd;
    }
  }

  /**
   * Closes every slot that all CPUs have passed: CPU c has passed time T when its last
   * record ended at ≥ T, or when `nowMonoNs` (CLOCK_MONOTONIC read before the drain that
   * fed the records) ≥ T + lag — an idle CPU emits nothing. Emits the rows of closed slots.
   */
  advance(nowMonoNs: bigint): void {
    if (!this.#haveBase) return;
    let passed = Infinity;
    const wm = this.#watermark;
    for (let c = 0; c < wm.length; c++) if (wm[c] < passed) passed = wm[c];
    passed = Math.max(passed, Number(nowMonoNs - this.#base) - this.lagNs);
    this.#closeBefore(Math.floor(passed / this.intervalNs));
  }

  /** Closes every open slot (at shutdown) and emits their rows. */
  flush(): void {
    if (this.#table.size > 0) this.#closeBefore(this.#table.maxSlot() + 1);
  }

  /** Running totals per cgroup id over all rows emitted so far. */
  totalsByCgroup(): ReadonlyMap<bigint, Readonly<CgroupTotals>> {
    return this.#totals;
  }

  /** Record, late-record and row counts so far. */
  stats(): AggregatorStats {
    return {
      records: this.#records,
      lateRecords: this.#lateRecords,
      lateNs: this.#lateNs,
      rows: this.#rows,
      openEntries: this.#table.size,
    };
  }

  #accumulate(table: SlotTable, e: number, cpuNs: number, valid: number, scaled: number) {
    const base = e * NR_COUNTERS;
    const counters = table.counters;
    const values = this.#values;
    for (let i = 0; i < NR_COUNTERS; i++) counters[base + i] += values[i];
    table.cpuNs[e] += cpuNs;
    table.valid[e] &= valid;
    table.scaled[e] |= scaled;
    table.records[e]++;
  }

  #setBase(tsLo: number, tsHi: number): void {
    const ts = (BigInt(tsHi) << 32n) | BigInt(tsLo);
    const interval = BigInt(this.intervalNs);
    this.#base = ts / interval * interval;
    this.#baseLo = Number(this.#base & 0xffffffffn);
    this.#baseHi = Number(this.#base >> 32n);
    this.#haveBase = true;
  }

  #addCpus(n: number): void {
    const wm = new Float64Array(n).fill(-Infinity);
    wm.set(this.#watermark);
    this.#watermark = wm;
  }

  #closeBefore(before: number): void {
    if (!(before > this.#closedBefore)) return;
    this.#closedBefore = before;
    const t = this.#table;
    const idx = t.indicesBefore(before);
    if (idx.length === 0) return;
    const rows: SlotRow[] = new Array(idx.length);
    const interval = BigInt(this.intervalNs);
    let slot = NaN;
    let monoNs = 0n;
    for (let k = 0; k < idx.length; k++) {
      const e = idx[k];
      if (t.slot[e] !== slot) {
        slot = t.slot[e];
        monoNs = this.#base + BigInt(slot) * interval;
      }
      const c = e * 4;
      const n = e * NR_COUNTERS;
      const valid = t.valid[e];
      const cgroupId = t.cgHi[e] === 0
        ? BigInt(t.cgLo[e])
        : (BigInt(t.cgHi[e]) << 32n) | BigInt(t.cgLo[e]);
      const row: SlotRow = {
        monoNs,
        tgid: t.tgid[e],
        comm: this.#comms.get(t.comm[c], t.comm[c + 1], t.comm[c + 2], t.comm[c + 3]),
        cgroupId,
        cpuNs: t.cpuNs[e],
        cycles: valid & 1 ? t.counters[n] : null,
        instructions: valid & 2 ? t.counters[n + 1] : null,
        llcMisses: valid & 4 ? t.counters[n + 2] : null,
        pageFaults: valid & 8 ? t.counters[n + 3] : null,
        contextSwitches: valid & 16 ? t.counters[n + 4] : null,
        scaled: t.scaled[e] !== 0,
        records: t.records[e],
      };
      rows[k] = row;
      this.#addTotals(row);
    }
    t.removeBefore(before);
    this.#rows += rows.length;
    this.#onRows(rows);
  }

  #addTotals(row: SlotRow): void {
    let tot = this.#totals.get(row.cgroupId);
    if (tot === undefined) {
      tot = { cpuNs: 0, cycles: 0, cpuNsWithoutCycles: 0, rows: 0 };
      this.#totals.set(row.cgroupId, tot);
    }
    tot.cpuNs += row.cpuNs;
    tot.rows++;
    if (row.cycles === null) tot.cpuNsWithoutCycles += row.cpuNs;
    else tot.cycles += row.cycles;
  }
}
