/**
 * Per-pod (container, process) time series: rows are added one at a time into fixed wall-clock
 * buckets and dropped, so memory is groups × buckets however many rows are read.
 */
import type { ReportRow, ScannedFile } from "./row_scan.ts";

/** What a series is kept per. */
export type SeriesBy = "pod" | "container" | "process";

/** Sums of one group in one bucket. A counter is null unless every row in the bucket had it. */
export interface BucketTotals {
  cpuNs: number;
  /** null when the files have no `runq_delay_ns` column */
  runqDelayNs: number | null;
  runqWaits: number | null;
  contextSwitches: number | null;
  cycles: number | null;
  instructions: number | null;
  llcMisses: number | null;
  rows: number;
}

/** Node-wide sums of one bucket. */
export interface NodeBucket {
  cpuNs: number;
  /** CPU time of rows that carry pod metadata */
  attributedCpuNs: number;
  rows: number;
  records: number;
  /** rows marked `carried` (they absorbed a stretch whose records were lost); null without the column */
  carriedRows: number | null;
  carriedCpuNs: number | null;
}

/** The identity of a group: the key columns of its first row. */
export interface GroupIdentity {
  podNamespace: string | null;
  podName: string | null;
  podUid: string | null;
  containerName: string | null;
  containerId: string | null;
  /** by process only */
  tgid: number | null;
  comm: string | null;
}

/** One group's buckets, keyed by absolute bucket index (wall ns / bucket ns). */
export interface GroupSeries extends GroupIdentity {
  key: string;
  /** human name: `namespace/pod`, `namespace/pod/container`, `comm[pid]`, or "(no pod)" */
  label: string;
  buckets: Map<number, BucketTotals>;
  total: BucketTotals;
}

/** Every group's buckets over one window. */
export interface TimeSeries {
  by: SeriesBy;
  everyNs: number;
  /** absolute index of the first bucket; its wall start is firstBucket × everyNs */
  firstBucket: number;
  bucketCount: number;
  /** wall ns of the first slot's start and the last slot's end: edge buckets are partial */
  windowStartNs: number;
  windowEndNs: number;
  /** CPUs of the node (the denominator of a share); null when no file says */
  cpus: number | null;
  /** groups, most CPU first */
  groups: GroupSeries[];
  /** node sums, one per bucket from firstBucket */
  node: NodeBucket[];
  /** some file had the `runq_delay_ns` / `carried` column */
  hasRunq: boolean;
  hasCarried: boolean;
  files: ScannedFile[];
}

/** Derived figures of one bucket (or a total), each null when its inputs are. */
export interface BucketMetrics {
  /** cpu ns / (bucket ns × CPUs) */
  cpuShare: number | null;
  /** ms waited runnable per second on CPU */
  runqMsPerCpuS: number | null;
  ipc: number | null;
  cpi: number | null;
  /** LLC misses per 1000 instructions */
  llcMpki: number | null;
}

/** A bucket length that cannot be used. */
export class SeriesOptionsError extends Error {
  override name = "SeriesOptionsError";
  constructor(readonly option: string, readonly value: unknown, message: string) {
    super(message);
  }
}

function emptyTotals(): BucketTotals {
  return {
    cpuNs: 0,
    runqDelayNs: 0,
    runqWaits: 0,
    contextSwitches: 0,
    cycles: 0,
    instructions: 0,
    llcMisses: 0,
    rows: 0,
  };
}

function addTo(t: BucketTotals, r: ReportRow): void {
  t.cpuNs += r.cpuNs;
  t.runqDelayNs = t.runqDelayNs === null || r.runqDelayNs === null
    ? null
    : t.runqDelayNs + r.runqDelayNs;
  t.runqWaits = t.runqWaits === null || r.runqWaits === null ? null : t.runqWaits + r.runqWaits;
  t.contextSwitches = t.contextSwitches === null || r.contextSwitches === null
    ? null
    : t.contextSwitches + r.contextSwitches;
  t.cycles = t.cycles === null || r.cycles === null ? null : t.cycles + r.cycles;
  t.instructions = t.instructions === null || r.instructions === null
    ? null
    : t.instructions + r.instructions;
  t.llcMisses = t.llcMisses === null || r.llcMisses === null ? null : t.llcMisses + r.llcMisses;
  t.rows++;
}

/** The grouping key of a row; pod keys match `summary --by pod` (the uid splits recreated pods). */
export function seriesKey(r: ReportRow, by: SeriesBy): string {
  switch (by) {
    case "pod":
      return r.podName === null && r.podUid === null
        ? ""
        : `${r.podNamespace}\0${r.podName}\0${r.podUid}`;
    case "container":
      return r.containerId ?? (r.podName === null ? "" : `pod\0${r.podUid}\0${r.containerName}`);
    case "process":
      return `${r.tgid}\0${r.comm}\0${r.cgroupId}`;
  }
}

function labelOf(g: GroupIdentity, by: SeriesBy): string {
  const pod = g.podName === null && g.podUid === null
    ? null
    : `${g.podNamespace ?? "?"}/${g.podName ?? g.podUid}`;
  switch (by) {
    case "pod":
      return pod ?? "(no pod)";
    case "container":
      return pod === null ? "(no pod)" : `${pod}/${g.containerName ?? g.containerId ?? "?"}`;
    case "process":
      return `${g.comm}[${g.tgid}]${pod === null ? "" : ` ${pod}`}`;
  }
}

/**
 * Accumulates rows into buckets of `everyNs` of wall-clock time (a row falls in the bucket of
 * its slot start), per group and for the node.
 *
 * @example
 * const b = new SeriesBuilder({ by: "pod", everyNs: 1e9 });
 * const files = await scanPodperfFiles(paths, (row, file) => b.add(row, file));
 * const series = b.finish(files);
 */
export class SeriesBuilder {
  readonly by: SeriesBy;
  readonly everyNs: number;
  readonly #every: bigint;
  readonly #groups = new Map<string, GroupSeries>();
  readonly #node = new Map<number, NodeBucket>();
  #min = Infinity;
  #max = -Infinity;
  #startNs: bigint | null = null;
  #endNs: bigint | null = null;

  constructor(opts: { by: SeriesBy; everyNs: number | bigint }) {
    const every = BigInt(opts.everyNs);
    if (every < 1_000_000n) {
      throw new SeriesOptionsError("every", opts.everyNs, "bucket length must be at least 1ms");
    }
    if (!["pod", "container", "process"].includes(opts.by)) {
      throw new SeriesOptionsError("by", opts.by, `cannot keep series by "${opts.by}"`);
    }
    this.by = opts.by;
    this.#every = every;
    this.everyNs = Number(every);
  }

  /** Adds one row of `file`. */
  add(r: ReportRow, file: ScannedFile): void {
    const wall = r.monoNs + file.wallOffsetNs;
    const idx = Number(wall / this.#every);
    if (idx < this.#min) this.#min = idx;
    if (idx > this.#max) this.#max = idx;
    if (this.#startNs === null || wall < this.#startNs) this.#startNs = wall;
    const end = wall + file.intervalNs;
    if (this.#endNs === null || end > this.#endNs) this.#endNs = end;
    const key = seriesKey(r, this.by);
    let g = this.#groups.get(key);
    if (g === undefined) {
      const id: GroupIdentity = {
        podNamespace: r.podNamespace,
        podName: r.podName,
        podUid: r.podUid,
        containerName: this.by === "pod" ? null : r.containerName,
        containerId: this.by === "pod" ? null : r.containerId,
        tgid: this.by === "process" ? r.tgid : null,
        comm: this.by === "process" ? r.comm : null,
      };
      g = { ...id, key, label: labelOf(id, this.by), buckets: new Map(), total: emptyTotals() };
      this.#groups.set(key, g);
    }
    let b = g.buckets.get(idx);
    if (b === undefined) {
      b = emptyTotals();
      g.buckets.set(idx, b);
    }
    addTo(b, r);
    addTo(g.total, r);
    let n = this.#node.get(idx);
    if (n === undefined) {
      n = {
        cpuNs: 0,
        attributedCpuNs: 0,
        rows: 0,
        records: 0,
        carriedRows: r.carried === null ? null : 0,
        carriedCpuNs: r.carried === null ? null : 0,
      };
      this.#node.set(idx, n);
    }
    n.cpuNs += r.cpuNs;
    if (r.podName !== null || r.podUid !== null) n.attributedCpuNs += r.cpuNs;
    n.rows++;
    n.records += r.records;
    if (r.carried !== null && n.carriedRows !== null) {
      if (r.carried) {
        n.carriedRows++;
        n.carriedCpuNs! += r.cpuNs;
      }
    } else {
      n.carriedRows = n.carriedCpuNs = null;
    }
  }

  /** The series of everything added; `files` gives the CPU count and which columns existed. */
  finish(files: readonly ScannedFile[]): TimeSeries {
    const empty = this.#min === Infinity;
    const firstBucket = empty ? 0 : this.#min;
    const bucketCount = empty ? 0 : this.#max - this.#min + 1;
    const node: NodeBucket[] = [];
    for (let i = 0; i < bucketCount; i++) {
      node.push(
        this.#node.get(firstBucket + i) ??
          { cpuNs: 0, attributedCpuNs: 0, rows: 0, records: 0, carriedRows: 0, carriedCpuNs: 0 },
      );
    }
    const groups = [...this.#groups.values()].sort((a, b) =>
      b.total.cpuNs - a.total.cpuNs || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)
    );
    const cpus = files.find((f) => f.cpus !== null)?.cpus ?? null;
    return {
      by: this.by,
      everyNs: this.everyNs,
      firstBucket,
      bucketCount,
      windowStartNs: Number(this.#startNs ?? 0n),
      windowEndNs: Number(this.#endNs ?? 0n),
      cpus,
      groups,
      node,
      hasRunq: files.some((f) => f.hasRunq),
      hasCarried: files.some((f) => f.hasCarried),
      files: [...files],
    };
  }
}

/** Derived figures of a bucket's totals; `spanNs` is the time the totals cover. */
export function bucketMetrics(t: BucketTotals, spanNs: number, cpus: number | null): BucketMetrics {
  return {
    cpuShare: cpus === null || spanNs <= 0 ? null : t.cpuNs / (spanNs * cpus),
    runqMsPerCpuS: t.runqDelayNs === null || t.cpuNs === 0 ? null : t.runqDelayNs / t.cpuNs * 1e3,
    ipc: t.cycles === null || t.instructions === null || t.cycles === 0
      ? null
      : t.instructions / t.cycles,
    cpi: t.cycles === null || t.instructions === null || t.instructions === 0
      ? null
      : t.cycles / t.instructions,
    llcMpki: t.llcMisses === null || t.instructions === null || t.instructions === 0
      ? null
      : t.llcMisses * 1000 / t.instructions,
  };
}

/** One line of `summary --every`: a group in a bucket. */
export interface EveryRow extends GroupIdentity, BucketTotals, BucketMetrics {
  /** bucket start, wall clock ISO 8601 (ms precision) */
  time: string;
  /** bucket start, wall clock ns */
  startNs: bigint;
  group: string;
}

/** The rows of `summary --every`: bucket by bucket, most CPU first inside each bucket. */
export function everyRows(s: TimeSeries): EveryRow[] {
  const out: EveryRow[] = [];
  for (let i = 0; i < s.bucketCount; i++) {
    const idx = s.firstBucket + i;
    const startNs = BigInt(idx) * BigInt(s.everyNs);
    const time = new Date(Number(startNs / 1_000_000n)).toISOString();
    const inBucket: EveryRow[] = [];
    for (const g of s.groups) {
      const t = g.buckets.get(idx);
      if (t === undefined) continue;
      inBucket.push({
        time,
        startNs,
        group: g.label,
        podNamespace: g.podNamespace,
        podName: g.podName,
        podUid: g.podUid,
        containerName: g.containerName,
        containerId: g.containerId,
        tgid: g.tgid,
        comm: g.comm,
        ...t,
        ...bucketMetrics(t, s.everyNs, s.cpus),
      });
    }
    inBucket.sort((a, b) => b.cpuNs - a.cpuNs);
    out.push(...inBucket);
  }
  return out;
}

/**
 * A group's values per bucket as a dense array from firstBucket (null where the group had no
 * row or the value is unknown).
 */
export function denseSeries(
  s: TimeSeries,
  g: GroupSeries,
  pick: (t: BucketTotals) => number | null,
  absent: number | null = null,
): (number | null)[] {
  const out: (number | null)[] = new Array(s.bucketCount).fill(absent);
  for (const [idx, t] of g.buckets) out[idx - s.firstBucket] = pick(t);
  return out;
}

/** The bucket lies wholly inside the window the rows cover (edge buckets are partial). */
export function wholeBucket(s: TimeSeries, idx: number): boolean {
  return idx * s.everyNs >= s.windowStartNs && (idx + 1) * s.everyNs <= s.windowEndNs;
}
