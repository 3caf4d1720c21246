/**
 * Per-pod Prometheus counters: a RowSink that folds joined rows into one accumulator per
 * (namespace, pod, container[, process]) and a MetricsSource that renders them on scrape.
 * Appending is a map lookup and a few additions per row; text is built only when scraped.
 */
import type { OutputRow } from "../output/schema.ts";
import type { RowSink } from "../sink.ts";
import type { MetricsSource } from "../agent/metrics_source.ts";
import { familyHeader, formatValue, labelSet } from "./exposition.ts";
import { log } from "../log.ts";
import { COUNTER_NAMES } from "../sampler/record.ts";

/** A counter source as the sampler reports it (lib/sampler CounterSource). */
export interface CounterAvailability {
  name: string;
  source: "hardware" | "software" | "unavailable";
}

/** What the runtime says about a container: running, removed (grace running) or not known. */
export type ContainerLiveness = "live" | "removed" | "unknown";

/** Options of PodSeries. */
export interface PodSeriesOptions {
  /** The `node` label of every series. */
  node: string;
  /** The sampler's counter sources: a family whose counter is unavailable is never rendered. */
  counters: readonly CounterAvailability[];
  /** Most series kept (default 10 000); rows of further series are dropped and counted. */
  maxSeries?: number;
  /** A series is dropped this long after its container was removed and its last row (ms). */
  gracePeriodMs?: number;
  /** A series whose container the runtime does not know is dropped after this long idle (ms). */
  idleMs?: number;
  /** Split series by process name too (label `process`): more series, finer answers. */
  byProcess?: boolean;
  /** Asks the runtime's view (the metadata store) whether a container still exists. */
  liveness?: (containerId: string) => ContainerLiveness;
  /** Monotonic clock in ms (tests inject one). */
  now?: () => number;
  /**
   * Slot length and CLOCK_REALTIME − CLOCK_MONOTONIC, for the data-end timestamp gauge. The
   * offset may be a function, read at each scrape: the collector measures it afresh, so a step
   * of the wall clock (or a VM paused and resumed) does not shift the gauge by the step.
   */
  intervalNs?: bigint;
  monoToWallOffsetNs?: bigint | (() => bigint);
}

/** Counters of the sink itself. */
export interface PodSeriesStats {
  series: number;
  /** Rows not counted because the series limit was reached, and their CPU time. */
  droppedRows: number;
  droppedCpuNs: number;
  /** Series removed after their container went away (or idled while unknown). */
  expired: number;
  /** Cgroups with a shortcut to their series (bounded by the live series' cgroups). */
  cgroups: number;
  /** append calls that failed (their rows are not counted). */
  errors: number;
}

/** A row as the sampler engineer's rows carry it once run-queue fields exist. */
type Row = OutputRow & { runqDelayNs?: number; runqWaits?: number };

/** Accumulator slots of one series: CPU time, run-queue delay and waits, then the counters. */
const CPU_NS = 0, RUNQ_NS = 1, RUNQ_WAITS = 2, FIRST_COUNTER = 3;
const SLOTS = FIRST_COUNTER + COUNTER_NAMES.length;

/** One exported family: its accumulator slot, unit and what it needs to exist. */
interface Family {
  name: string;
  help: string;
  slot: number;
  /** Accumulated value per exported unit (1e9: ns → s). */
  per: number;
  /** Counter (sampler name) that must not be unavailable; "runq" = rows carry run-queue fields. */
  needs: string | null;
}

// What each counter of the sampler's table means; a new counter gets a generic line.
const COUNTER_HELP: Record<string, string> = {
  cycles: "CPU cycles of the container's processes (hardware PMU).",
  instructions: "Instructions retired by the container's processes (hardware PMU).",
  llc_misses: "Last-level cache misses of the container's processes (hardware PMU).",
  page_faults: "Page faults (minor and major) of the container's processes.",
  context_switches: "Context switches of the container's processes.",
};

/**
 * Reads each counter's row property: its column name in camelCase (llc_misses → llcMisses).
 * One closure per counter keeps each property load monomorphic on the append path.
 */
const COUNTER_READERS: readonly ((row: OutputRow) => number | null)[] = COUNTER_NAMES.map((n) => {
  const field = n.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return (row: OutputRow) => (row as unknown as Record<string, number | null>)[field];
});

/**
 * The families, in output order: CPU time, run-queue delay, then one per counter of the
 * sampler's table (`podperf_pod_<counter>_total`). Prometheus conventions: base units, `_total`.
 */
export const POD_FAMILIES: readonly Family[] = [
  {
    name: "podperf_pod_cpu_seconds_total",
    help: "CPU time of the container's processes, seconds (sched_switch and tick stretches).",
    slot: CPU_NS,
    per: 1e9,
    needs: null,
  },
  {
    name: "podperf_pod_runqueue_delay_seconds_total",
    help: "Time the container's runnable tasks waited on a run queue, seconds.",
    slot: RUNQ_NS,
    per: 1e9,
    needs: "runq",
  },
  {
    name: "podperf_pod_runqueue_waits_total",
    help: "Run-queue waits (wake-ups or preemptions followed by a wait) of the container's tasks.",
    slot: RUNQ_WAITS,
    per: 1,
    needs: "runq",
  },
  ...COUNTER_NAMES.map((name, i) => ({
    name: `podperf_pod_${name}_total`,
    help: COUNTER_HELP[name] ?? `Counter ${name} of the container's processes.`,
    slot: FIRST_COUNTER + i,
    per: 1,
    needs: name,
  })),
];

/** One series: its rendered label set, its accumulators and what decides its expiry. */
interface Series {
  key: string;
  labels: string;
  values: Float64Array;
  containerId: string | null;
  lastSeenMs: number;
  /** When the sweep first saw its container removed; null while live or unknown. */
  removedMs: number | null;
  /** Its cgroup now carries other labels (a fallback's answer replaced by NRI's). */
  superseded: boolean;
  dropped: boolean;
}

/** Per-cgroup shortcut to the series, valid while the row's pod columns stay the same. */
interface CgroupCache {
  podName: string | null;
  podNamespace: string | null;
  containerName: string | null;
  prefix: string;
  series: Series | null;
  byComm: Map<string, Series> | null;
}

/** Default bound on series. */
export const DEFAULT_MAX_SERIES = 10_000;
/** Default time a series of an unknown container survives without rows. */
export const DEFAULT_IDLE_MS = 300_000;
const SWEEP_EVERY_MS = 1000;

/**
 * The per-pod series: append joined rows (cheap), render on scrape.
 *
 * @example
 * const series = new PodSeries({ node: "n1", counters: sampler.counterSources });
 * sinks.push(series); // collector: series.append(joinedRows)
 * new AgentHttpServer({ address: ":9102", liveness: [], readiness: [], metrics: [series] });
 */
export class PodSeries implements RowSink, MetricsSource {
  readonly maxSeries: number;
  readonly gracePeriodMs: number;
  readonly idleMs: number;
  readonly byProcess: boolean;
  readonly #node: string;
  readonly #now: () => number;
  readonly #liveness: (containerId: string) => ContainerLiveness;
  readonly #available: Set<string>;
  #runq = false;
  readonly #series = new Map<string, Series>();
  readonly #cgroups = new Map<bigint, CgroupCache>();
  #lastCgroupId = -1n;
  #lastCache: CgroupCache | undefined = undefined;
  #lastSweepMs = -Infinity;
  /** Start of the latest slot appended (CLOCK_MONOTONIC ns); -1 before any. */
  #lastSlotNs = -1n;
  readonly #intervalNs: bigint;
  readonly #offsetNs: bigint | (() => bigint) | null;
  #droppedRows = 0;
  #droppedCpuNs = 0;
  #expired = 0;
  #errors = 0;

  constructor(opts: PodSeriesOptions) {
    this.#node = opts.node;
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    this.gracePeriodMs = opts.gracePeriodMs ?? 10_000;
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.byProcess = opts.byProcess ?? false;
    this.#now = opts.now ?? (() => performance.now());
    this.#liveness = opts.liveness ?? (() => "unknown");
    this.#intervalNs = opts.intervalNs ?? 1_000_000n;
    this.#offsetNs = opts.monoToWallOffsetNs ?? null;
    this.#available = new Set(
      opts.counters.filter((c) => c.source !== "unavailable").map((c) => c.name),
    );
  }

  /** Adds rows to their series; rows outside pods are not per-pod series and are skipped. */
  append(rows: readonly OutputRow[]): void {
    // A sink never throws into the drain loop: a failure is counted and logged (throttled).
    try {
      this.#append(rows);
    } catch (e) {
      this.#errors++;
      log.throttled("pod-series", "error", "per-pod series: rows not counted", {
        error: (e as Error).message,
      });
    }
  }

  #append(rows: readonly OutputRow[]): void {
    const now = this.#now();
    // Rows come in slot order: the batch's last row has its latest slot.
    if (rows.length && rows[rows.length - 1].monoNs > this.#lastSlotNs) {
      this.#lastSlotNs = rows[rows.length - 1].monoNs;
    }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Row;
      if (row.podName === null && row.podUid === null) continue;
      const s = this.#seriesOf(row, now);
      if (s === null) {
        this.#droppedRows++;
        this.#droppedCpuNs += row.cpuNs;
        continue;
      }
      const v = s.values;
      v[CPU_NS] += row.cpuNs;
      if (typeof row.runqDelayNs === "number") {
        this.#runq = true;
        v[RUNQ_NS] += row.runqDelayNs;
        v[RUNQ_WAITS] += row.runqWaits ?? 0;
      }
      // A counter not valid in the row (null) adds nothing: never a zero, never a guess.
      for (let k = 0; k < COUNTER_READERS.length; k++) {
        const c = COUNTER_READERS[k](row);
        if (c !== null) v[FIRST_COUNTER + k] += c;
      }
      s.lastSeenMs = now;
      // A restarted container keeps its labels under a new id: the series lives on.
      if (row.containerId !== null && row.containerId !== s.containerId) {
        s.containerId = row.containerId;
        s.removedMs = null;
      }
    }
    if (now - this.#lastSweepMs >= SWEEP_EVERY_MS) this.sweep(now);
  }

  #seriesOf(row: Row, now: number): Series | null {
    // Rows of one cgroup often come in a run (one slot's processes): skip the map then.
    let c = this.#lastCgroupId === row.cgroupId ? this.#lastCache : this.#cgroups.get(row.cgroupId);
    if (
      c === undefined || c.podName !== row.podName || c.podNamespace !== row.podNamespace ||
      c.containerName !== row.containerName
    ) {
      // Bounded: the cache is rebuilt from the rows, so clearing it loses nothing.
      if (this.#cgroups.size >= 4 * this.maxSeries) {
        this.#cgroups.clear();
        this.#lastCgroupId = -1n;
      }
      // The cgroup's rows now go to other labels: its old series ends after the grace period.
      if (c !== undefined) {
        if (c.series) c.series.superseded = true;
        for (const old of c.byComm?.values() ?? []) old.superseded = true;
      }
      const pod = row.podName ?? row.podUid ?? "";
      c = {
        podName: row.podName,
        podNamespace: row.podNamespace,
        containerName: row.containerName,
        prefix: `${row.podNamespace ?? ""}\0${pod}\0${row.containerName ?? ""}`,
        series: null,
        byComm: this.byProcess ? new Map() : null,
      };
      this.#cgroups.set(row.cgroupId, c);
    }
    this.#lastCgroupId = row.cgroupId;
    this.#lastCache = c;
    if (c.byComm === null) {
      if (c.series === null || c.series.dropped) c.series = this.#lookup(c.prefix, row, now);
      return c.series;
    }
    let s = c.byComm.get(row.comm);
    if (s === undefined || s.dropped) {
      s = this.#lookup(`${c.prefix}\0${row.comm}`, row, now) ?? undefined;
      if (s === undefined) return null;
      if (c.byComm.size >= 256) c.byComm.clear();
      c.byComm.set(row.comm, s);
    }
    return s;
  }

  #lookup(key: string, row: Row, now: number): Series | null {
    const found = this.#series.get(key);
    if (found) {
      found.superseded = false;
      return found;
    }
    if (this.#series.size >= this.maxSeries) return null;
    const pairs: [string, string][] = [
      ["namespace", row.podNamespace ?? ""],
      ["pod", row.podName ?? row.podUid ?? ""],
      ["container", row.containerName ?? ""],
      ["node", this.#node],
    ];
    if (this.byProcess) pairs.push(["process", row.comm]);
    const s: Series = {
      key,
      labels: labelSet(pairs),
      values: new Float64Array(SLOTS),
      containerId: row.containerId,
      lastSeenMs: now,
      removedMs: null,
      superseded: false,
      dropped: false,
    };
    this.#series.set(key, s);
    return s;
  }

  /**
   * Drops series whose container was removed more than the grace period ago (counted from its
   * last row or the removal, whichever is later), series whose cgroup moved to other labels
   * a grace period after their last row, and series of containers the runtime does not know
   * that have been idle for `idleMs`. Runs on append (at most once a second) and on
   * every scrape; returns how many went.
   */
  sweep(now = this.#now()): number {
    this.#lastSweepMs = now;
    let n = 0;
    for (const s of this.#series.values()) {
      const state = s.containerId === null ? "unknown" : this.#liveness(s.containerId);
      if (state === "removed" && s.removedMs === null) s.removedMs = now;
      else if (state === "live") s.removedMs = null;
      const gone = s.removedMs !== null
        ? now - Math.max(s.lastSeenMs, s.removedMs) >= this.gracePeriodMs
        : s.superseded
        ? now - s.lastSeenMs >= this.gracePeriodMs
        : state === "unknown" && now - s.lastSeenMs >= this.idleMs;
      if (gone) {
        s.dropped = true;
        this.#series.delete(s.key);
        n++;
      }
    }
    this.#expired += n;
    if (n > 0) this.#forgetDroppedCgroups();
    return n;
  }

  /**
   * Drops the cgroup shortcuts that lead only to dropped series. Kept, they held every expired
   * series (labels, accumulators) alive until the cache's own bound, 4 × maxSeries cgroups:
   * with a pod a second that is hours of dead series growing the heap (BENCHMARKS.md,
   * eighteenth pass). A live cgroup's next row rebuilds its shortcut.
   */
  #forgetDroppedCgroups(): void {
    for (const [id, c] of this.#cgroups) {
      if (c.byComm !== null) {
        for (const [comm, s] of c.byComm) if (s.dropped) c.byComm.delete(comm);
        if (c.byComm.size === 0) this.#cgroups.delete(id);
      } else if (c.series === null || c.series.dropped) {
        this.#cgroups.delete(id);
      }
    }
    this.#lastCgroupId = -1n;
    this.#lastCache = undefined;
  }

  /** The families with their series, then the sink's own counters. */
  renderMetrics(): string {
    this.sweep();
    const out: string[] = [];
    for (const f of POD_FAMILIES) {
      if (f.needs === "runq" ? !this.#runq : f.needs !== null && !this.#available.has(f.needs)) {
        continue;
      }
      out.push(familyHeader(f.name, "counter", f.help));
      for (const s of this.#series.values()) {
        out.push(`${f.name}${s.labels} ${formatValue(s.values[f.slot] / f.per)}\n`);
      }
    }
    const st = this.stats();
    const node = labelSet([["node", this.#node]]);
    if (this.#offsetNs !== null && this.#lastSlotNs >= 0n) {
      // The series hold every slot up to here: how far the scrape lags the kernel's data.
      const offset = typeof this.#offsetNs === "function" ? this.#offsetNs() : this.#offsetNs;
      const endNs = this.#lastSlotNs + this.#intervalNs + offset;
      out.push(
        familyHeader(
          "podperf_pod_series_data_end_timestamp_seconds",
          "gauge",
          "Wall-clock end of the latest slot counted in the per-pod series (Unix seconds).",
        ),
        `podperf_pod_series_data_end_timestamp_seconds${node} ${
          formatValue(Number(endNs / 1000n) / 1e6)
        }\n`,
      );
    }
    out.push(
      familyHeader("podperf_pod_series", "gauge", "Per-pod series currently exported."),
      `podperf_pod_series${node} ${st.series}\n`,
      familyHeader("podperf_pod_series_limit", "gauge", "Most per-pod series kept."),
      `podperf_pod_series_limit${node} ${this.maxSeries}\n`,
      familyHeader(
        "podperf_pod_series_dropped_rows_total",
        "counter",
        "Rows left out of the per-pod series because the series limit was reached.",
      ),
      `podperf_pod_series_dropped_rows_total${node} ${st.droppedRows}\n`,
      familyHeader(
        "podperf_pod_series_dropped_cpu_seconds_total",
        "counter",
        "CPU time of the rows left out of the per-pod series, seconds.",
      ),
      `podperf_pod_series_dropped_cpu_seconds_total${node} ${formatValue(st.droppedCpuNs / 1e9)}\n`,
      familyHeader(
        "podperf_pod_series_expired_total",
        "counter",
        "Per-pod series removed after their container went away.",
      ),
      `podperf_pod_series_expired_total${node} ${st.expired}\n`,
    );
    return out.join("");
  }

  /** The sink's counters. */
  stats(): PodSeriesStats {
    return {
      series: this.#series.size,
      droppedRows: this.#droppedRows,
      droppedCpuNs: this.#droppedCpuNs,
      expired: this.#expired,
      cgroups: this.#cgroups.size,
      errors: this.#errors,
    };
  }

  /** Nothing to flush: the series live in memory and go with the process. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
