/**
 * SlotAggregator: sampler records → one SlotRow per (slot, tgid, cgroup id), closing a slot
 * once every CPU has passed it.
 */
import { COUNTER_FIELDS, COUNTER_MASK, NR_COUNTERS } from "../sampler/counter_table.ts";
import { FLAG_CARRIED, FLAG_ONE_SLOT, OFF } from "../sampler/record.ts";
import { CommCache } from "./comm_cache.ts";
import { SlotTable } from "./slot_table.ts";
import type { SlotRow } from "./slot_row.ts";

// module constants rather than property loads on the hot path
const {
  tsNs: OFF_TS,
  cgroupId: OFF_CGROUP,
  cpuNs: OFF_CPU_NS,
  spanNs: OFF_SPAN_NS,
  runqNs: OFF_RUNQ_NS,
  counters: OFF_COUNTERS,
  tgid: OFF_TGID,
  cpu: OFF_CPU,
  flags: OFF_FLAGS,
  waits: OFF_WAITS,
  runs: OFF_RUNS,
  comm: OFF_COMM,
} = OFF;
const TWO_32 = 4294967296;
/** Records naming a CPU at or above this are not trusted with a watermark slot. */
const MAX_CPUS = 8192;
/** Default bound of open (slot, tgid, cgroup) entries: ~30 MB of typed arrays. */
const DEFAULT_MAX_ENTRIES = 1 << 18;
/**
 * Default bound of rows per onRows call. A drain under load closes thousands of rows at once;
 * handed over whole, they and the objects made from them downstream (joined rows) live through
 * two of V8's young-generation collections and are copied to the old generation, which then
 * grows between full collections: under 64 runnable tasks, 2.2–2.7 MB/s promoted and a 42 MB
 * old generation. In groups of 256 (~0.15 MB each at the ~0.6 KB of objects per row a storm's
 * drain made) they die young (BENCHMARKS.md, sixteenth pass).
 */
export const DEFAULT_ROWS_PER_CALL = 256;
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
  /**
   * receives closed rows, in slot order: per advance()/flush() that closes any, in calls of at
   * most `rowsPerCall` rows, made as their call comes (so it must not call back into the
   * aggregator)
   */
  onRows: (rows: SlotRow[]) => void;
  /** most rows per onRows call (default DEFAULT_ROWS_PER_CALL) */
  rowsPerCall?: number;
  /**
   * how far behind the drain's start time a CPU that emitted nothing is assumed to have
   * passed: a busy CPU's task is charged at the scheduler's own updates (its HZ tick, ≥ 100 Hz)
   * seen at our tick, so its uncharged time began up to one scheduler tick plus one interval
   * ago; default one interval + 11 ms
   */
  lagNs?: number;
  /**
   * bound of open entries (default 2^18): when reached, the oldest open slot is closed early
   * (its later records become late, so no ns is lost) and `forcedCloses` counts it
   */
  maxEntries?: number;
  /** bound of distinct comm strings cached (default 4096; see CommCache) */
  commCacheSize?: number;
  /**
   * CLOCK_MONOTONIC ns where the records begin (the sampler's attachedAtNs). Slots before its
   * slot are closed from the start: a run-queue wait that began while nothing was sampled is
   * charged from that slot on (counted in lateRunqNs), so no row lies before the sampling did.
   */
  startNs?: bigint;
}

/** Counts for health reporting. */
export interface AggregatorStats {
  records: number;
  /** records whose stretch began in an already closed slot */
  lateRecords: number;
  /** cpu ns of those parts, charged to the oldest open slot instead */
  lateNs: number;
  /** run-queue wait ns that began in a closed slot, charged to the oldest open slot */
  lateRunqNs: number;
  rows: number;
  openEntries: number;
  /** slots closed before every CPU passed them because the entry bound was reached */
  forcedCloses: number;
  /** records naming a CPU ≥ 8192 (corrupt): aggregated, but not used to close slots */
  badCpuRecords: number;
}

/**
 * Aggregates 96-byte sampler records into one row per (slot, tgid, cgroup id). Rows come out
 * in slot order; within a slot, in the order their first record arrived.
 *
 * A record charges cpu_ns (the scheduler's figure) placed over [ts − span_ns, ts]: cpu ns and
 * counters are split pro rata over the slots that span covers, by cumulative rounding so the
 * pieces sum to the record's values exactly. Its run-queue wait covers [ts − span − runq,
 * ts − span] (it ended when the run began) and is split by overlap; the wait is counted in the
 * slot where it ended.
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
  readonly maxEntries: number;
  readonly rowsPerCall: number;
  #onRows: (rows: SlotRow[]) => void;
  #startNs: bigint | null;
  #table = new SlotTable();
  #comms: CommCache;
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
  #records = 0;
  #lateRecords = 0;
  #lateNs = 0;
  #lateRunqNs = 0;
  #rows = 0;
  #forcedCloses = 0;
  #badCpuRecords = 0;

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
    if (!Number.isSafeInteger(opts.cpus) || opts.cpus <= 0 || opts.cpus > MAX_CPUS) {
      throw new AggregateConfigError(
        "cpus",
        opts.cpus,
        `cpus must be 1 to ${MAX_CPUS}, got ${opts.cpus}`,
      );
    }
    const lag = opts.lagNs ?? interval + 11_000_000;
    if (!Number.isFinite(lag) || lag < 0) {
      throw new AggregateConfigError("lagNs", opts.lagNs, `lagNs must be ≥ 0, got ${lag}`);
    }
    const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 2 * MAX_SLOTS_PER_RECORD + 4) {
      throw new AggregateConfigError(
        "maxEntries",
        opts.maxEntries,
        `maxEntries must be ≥ ${2 * MAX_SLOTS_PER_RECORD + 4}, got ${opts.maxEntries}`,
      );
    }
    this.intervalNs = interval;
    this.lagNs = lag;
    const perCall = opts.rowsPerCall ?? DEFAULT_ROWS_PER_CALL;
    if (!Number.isSafeInteger(perCall) || perCall < 1) {
      throw new AggregateConfigError(
        "rowsPerCall",
        opts.rowsPerCall,
        `rowsPerCall must be a positive integer, got ${opts.rowsPerCall}`,
      );
    }
    this.maxEntries = maxEntries;
    this.rowsPerCall = perCall;
    this.#comms = new CommCache(opts.commCacheSize);
    this.#onRows = opts.onRows;
    this.#startNs = opts.startNs ?? null;
    this.#watermark = new Float64Array(opts.cpus).fill(-Infinity);
  }

  /** Adds the record at byte `off` of `view`. The hot path: allocates nothing. */
  add(view: DataView, off: number): void {
    const tsLo = view.getUint32(off + OFF_TS, true);
    const tsHi = view.getUint32(off + OFF_TS + 4, true);
    if (!this.#haveBase) this.#setBase(tsLo, tsHi);
    const end = (tsHi - this.#baseHi) * TWO_32 + (tsLo - this.#baseLo);
    const cpuNs = u64(view, off + OFF_CPU_NS);
    const span = u64(view, off + OFF_SPAN_NS);
    const runq = u64(view, off + OFF_RUNQ_NS);
    const cpu = view.getUint32(off + OFF_CPU, true);
    if (cpu >= MAX_CPUS) this.#badCpuRecords++;
    else {
      if (cpu >= this.#watermark.length) this.#addCpus(cpu + 1);
      if (end > this.#watermark[cpu]) this.#watermark[cpu] = end;
    }
    const flags = view.getUint32(off + OFF_FLAGS, true);
    const valid = flags & COUNTER_MASK;
    const scaled = (flags >>> 8) & COUNTER_MASK;
    const carried = flags & FLAG_CARRIED ? 1 : 0;
    const waits = view.getUint32(off + OFF_WAITS, true);
    const runs = view.getUint32(off + OFF_RUNS, true);
    const tgid = view.getUint32(off + OFF_TGID, true);
    const cgLo = view.getUint32(off + OFF_CGROUP, true);
    const cgHi = view.getUint32(off + OFF_CGROUP + 4, true);
    const values = this.#values;
    for (let i = 0, o = off + OFF_COUNTERS; i < NR_COUNTERS; i++, o += 8) values[i] = u64(view, o);
    this.#records++;
    if (this.#table.size >= this.maxEntries - 2 * MAX_SLOTS_PER_RECORD - 2) this.#makeRoom();

    const interval = this.intervalNs;
    const start = end - span;
    let first = Math.floor(start / interval);
    const table = this.#table;
    if (flags & FLAG_ONE_SLOT) {
      // Runs the kernel summed inside one slot, waits included: all of it belongs there.
      if (first < this.#closedBefore) first = this.#late(cpuNs, runq);
      const e = table.findOrInsert(first, tgid, cgLo, cgHi, view, off + OFF_COMM);
      this.#addTo(e, cpuNs, valid, scaled, carried, runs);
      table.runqNs[e] += runq;
      table.runqWaits[e] += waits;
      return;
    }
    const last = Math.max(
      span > 0 ? Math.floor((end - 1) / interval) : first,
      this.#closedBefore,
    );
    if (first < this.#closedBefore) {
      // the part inside closed slots; its run-queue wait is #addWait's to count
      first = this.#late(
        span > 0
          ? Math.round(cpuNs * (Math.min(end, this.#closedBefore * interval) - start) / span)
          : cpuNs,
        0,
      );
    }
    if (first < last - MAX_SLOTS_PER_RECORD) first = last - MAX_SLOTS_PER_RECORD;
    if (runq > 0 || waits) this.#addWait(start, runq, waits, first, tgid, cgLo, cgHi, view, off);

    if (first === last) {
      const e = table.findOrInsert(first, tgid, cgLo, cgHi, view, off + OFF_COMM);
      this.#addTo(e, cpuNs, valid, scaled, carried, runs);
      return;
    }

    // Split: slot `first` takes everything from `start` (including any clamped head), each
    // later slot its overlap. Pieces are differences of rounded cumulative shares, so they
    // are integers and add up to the record's values exactly.
    const assigned = this.#assigned;
    assigned.fill(0);
    let cpuAssigned = 0;
    let segStart = start;
    let cum = 0;
    for (let s = first; s <= last; s++) {
      const segEnd = s === last ? end : (s + 1) * interval;
      cum += segEnd - segStart;
      const e = table.findOrInsert(s, tgid, cgLo, cgHi, view, off + OFF_COMM);
      const base = e * NR_COUNTERS;
      const counters = table.counters;
      for (let i = 0; i < NR_COUNTERS; i++) {
        const upTo = s === last ? values[i] : Math.round(values[i] * cum / span);
        counters[base + i] += upTo - assigned[i];
        assigned[i] = upTo;
      }
      const cpuUpTo = s === last ? cpuNs : Math.round(cpuNs * cum / span);
      table.cpuNs[e] += cpuUpTo - cpuAssigned;
      cpuAssigned = cpuUpTo;
      table.valid[e] &= valid;
      table.scaled[e] |= scaled;
      table.carried[e] |= carried;
      table.records[e] += runs;
      segStart = segEnd;
    }
  }

  /**
   * Counts a record that began in a closed slot, with the cpu and wait ns that lay there, and
   * returns the oldest open slot, where they go instead.
   */
  #late(cpuNs: number, runqNs: number): number {
    this.#lateRecords++;
    this.#lateNs += cpuNs;
    this.#lateRunqNs += runqNs;
    return this.#closedBefore;
  }

  /** Adds a whole record's cpu ns and counters (in #values) to entry `e`. */
  #addTo(e: number, cpuNs: number, valid: number, scaled: number, carried: number, runs: number) {
    const table = this.#table;
    const base = e * NR_COUNTERS;
    const counters = table.counters;
    const values = this.#values;
    for (let i = 0; i < NR_COUNTERS; i++) counters[base + i] += values[i];
    table.cpuNs[e] += cpuNs;
    table.valid[e] &= valid;
    table.scaled[e] |= scaled;
    table.carried[e] |= carried;
    table.records[e] += runs;
  }

  /**
   * Places a run-queue wait of `runq` ns ending at `runStart` by overlap with the slots, its
   * head clamped to the oldest open slot; the wait is counted in `runSlot`, where it ended.
   */
  #addWait(
    runStart: number,
    runq: number,
    waits: number,
    runSlot: number,
    tgid: number,
    cgLo: number,
    cgHi: number,
    view: DataView,
    off: number,
  ): void {
    const interval = this.intervalNs;
    const table = this.#table;
    const waitStart = runStart - runq;
    const lastWait = Math.max(
      runq > 0 ? Math.floor((runStart - 1) / interval) : runSlot,
      this.#closedBefore,
    );
    let first = Math.floor(waitStart / interval);
    if (first < this.#closedBefore) {
      this.#lateRunqNs += Math.min(runStart, this.#closedBefore * interval) - waitStart;
      first = this.#closedBefore;
    }
    if (first < lastWait - MAX_SLOTS_PER_RECORD) first = lastWait - MAX_SLOTS_PER_RECORD;
    let segStart = waitStart;
    for (let s = first; s <= lastWait; s++) {
      const segEnd = s === lastWait ? runStart : (s + 1) * interval;
      const e = table.findOrInsert(s, tgid, cgLo, cgHi, view, off + OFF_COMM);
      table.runqNs[e] += segEnd - segStart;
      segStart = segEnd;
    }
    const e = table.findOrInsert(
      Math.max(runSlot, lastWait),
      tgid,
      cgLo,
      cgHi,
      view,
      off + OFF_COMM,
    );
    table.runqWaits[e] += waits;
  }

  /**
   * Closes the oldest open slots until the table is at most half full again: halving the open
   * range each step, so reaching the bound costs O(entries · log slots) once, not per record.
   */
  #makeRoom(): void {
    const target = (this.maxEntries - 2 * MAX_SLOTS_PER_RECORD - 2) / 2;
    while (this.#table.size > target) {
      const min = this.#table.minSlot(), max = this.#table.maxSlot();
      this.#forcedCloses++;
      this.#closeBefore(min + Math.max(1, Math.ceil((max - min) / 2)));
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

  /** Record, late-record and row counts so far. */
  stats(): AggregatorStats {
    return {
      records: this.#records,
      lateRecords: this.#lateRecords,
      lateNs: this.#lateNs,
      lateRunqNs: this.#lateRunqNs,
      rows: this.#rows,
      openEntries: this.#table.size,
      forcedCloses: this.#forcedCloses,
      badCpuRecords: this.#badCpuRecords,
    };
  }

  #setBase(tsLo: number, tsHi: number): void {
    const ts = (BigInt(tsHi) << 32n) | BigInt(tsLo);
    const interval = BigInt(this.intervalNs);
    this.#base = ts / interval * interval;
    this.#baseLo = Number(this.#base & 0xffffffffn);
    this.#baseHi = Number(this.#base >> 32n);
    this.#haveBase = true;
    if (this.#startNs !== null) {
      this.#closedBefore = Math.floor(Number(this.#startNs - this.#base) / this.intervalNs);
    }
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
    const interval = BigInt(this.intervalNs);
    let slot = NaN;
    let monoNs = 0n;
    let rows: SlotRow[] = [];
    let from = 0; // idx position of rows[0]
    try {
      for (let k = 0; k < idx.length; k++) {
        if (k - from === rows.length) {
          // the previous group went out: each is made only when its turn comes, so a group's
          // objects are garbage before the next is made
          from = k;
          rows = new Array(Math.min(this.rowsPerCall, idx.length - k));
        }
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
        const row = {
          monoNs,
          tgid: t.tgid[e],
          comm: this.#comms.get(t.comm[c], t.comm[c + 1], t.comm[c + 2], t.comm[c + 3]),
          cgroupId,
          cpuNs: t.cpuNs[e],
          runqDelayNs: t.runqNs[e],
          runqWaits: t.runqWaits[e],
        } as SlotRow;
        // same property order for every row: one object shape
        for (let i = 0; i < NR_COUNTERS; i++) {
          row[COUNTER_FIELDS[i]] = valid & (1 << i) ? t.counters[n + i] : null;
        }
        row.scaled = t.scaled[e] !== 0;
        row.carried = t.carried[e] !== 0;
        row.records = t.records[e];
        rows[k - from] = row;
        if (k - from + 1 === rows.length) {
          this.#rows += rows.length;
          this.#onRows(rows);
        }
      }
    } finally {
      t.removeBefore(before);
    }
  }
}

/** The u64 at `o` as a number (exact below 2^53). */
function u64(view: DataView, o: number): number {
  return view.getUint32(o, true) + view.getUint32(o + 4, true) * TWO_32;
}
