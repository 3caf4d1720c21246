/**
 * The agent's own health and progress: one snapshot of counters read from every component,
 * turned into the periodic stats line, the `/metrics` families and each file's key/value
 * metadata, so the three always say the same thing.
 */
import type { HeapBytes } from "../output/mod.ts";
import type { MetricsSource } from "./metrics_source.ts";

/** NRI plugin state as the stats show it (null fields when NRI is off). */
export interface NriCounters {
  state: string;
  syncs: number;
  reconnects: number;
  deadlineMisses: number;
  lastError: string | null;
}

/** Every counter the agent reports; read fresh on each stats line, scrape and file. */
export interface AgentCounters {
  /** Ring records aggregated. */
  records: number;
  /** Records the kernel could not reserve ring space for. */
  lostRecords: number;
  /** Records that arrived after their slot had closed. */
  lateRecords: number;
  /** Rows flagged as carrying time from before their slot (0 before the sampler sets the flag). */
  carriedRows: number;
  /** Counter reads that failed in BPF. */
  readErrors: number;
  /** Runs the switch tracepoint did not show begin: cpu_ns kept, counters unknown (null). */
  unseenRuns: number;
  /** Rows in completed files. */
  rowsWritten: number;
  /** Rows that could not be written. */
  rowsLost: number;
  /** Rows written without pod columns because metadata was not ready within the start-up wait. */
  rowsUnnamedAtStart: number;
  /** Files completed. */
  files: number;
  /** Bytes of `*.parquet` files in the output directory at the last look. */
  bytesOnDisk: number;
  /** CPU time with and without pod metadata (share attributed = known / total). */
  knownCpuNs: number;
  unknownCpuNs: number;
  /** Resident set size of the agent, bytes. */
  rssBytes: number;
  /** JavaScript heap in use, bytes (RSS minus this is native: ring, libbpf, buffers). */
  heapUsedBytes: number;
  /**
   * Each V8 isolate's heap by name: `loop` (the collector's) and `writer` (the Parquet Worker's,
   * as it last published it). Their committed pages are most of the RSS that moves.
   */
  heaps: Record<string, HeapBytes>;
  /** Seconds since the ring was last drained (liveness). */
  lastDrainAgeS: number;
  /** Drains so far: tells a stats line whether a drain came since the previous one. */
  drains: number;
  /** Slowest drain (drain + aggregation + join + hand-off) of the recent window, seconds. */
  drainP99S: number;
  nri: NriCounters | null;
  /** Entries held by each bounded structure, by name. */
  sizes: Record<string, number>;
}

const NRI_STATES = ["connecting", "registered", "synced", "backoff", "closed"] as const;

/** Share of CPU time attributed to a pod, or null before any CPU time was seen. */
export function attributedShare(c: Pick<AgentCounters, "knownCpuNs" | "unknownCpuNs">) {
  const total = c.knownCpuNs + c.unknownCpuNs;
  return total > 0 ? c.knownCpuNs / total : null;
}

/**
 * Turns counters into the stats line (rates against the previous line), Prometheus text and
 * Parquet key/value metadata.
 *
 * @example
 * const stats = new AgentStats(() => readCounters());
 * log.info("stats", stats.record());
 * server = new AgentHttpServer({ ..., metrics: [stats] });
 */
export class AgentStats implements MetricsSource {
  #read: () => AgentCounters;
  #now: () => number;
  #started: number;
  /** the last drain seen by the previous stats line, its record count, and the rate then */
  #prev: { drains: number; drainAt: number; records: number; rate: number } | null = null;

  constructor(read: () => AgentCounters, now: () => number = () => performance.now()) {
    this.#read = read;
    this.#now = now;
    this.#started = now();
  }

  /** The counters now. */
  counters(): AgentCounters {
    return this.#read();
  }

  /**
   * Fields of one stats line. `recordsPerS` is the rate between the last drains the previous
   * line and this one saw (since start for the first): records arrive only at drains, whose
   * wait (up to a second) and the stats interval drift against each other, so an interval
   * without a drain repeats the last rate instead of reporting a busy node at 0.
   */
  record(): Record<string, unknown> {
    const c = this.#read();
    const prev = this.#prev ?? { drains: 0, drainAt: this.#started, records: 0, rate: 0 };
    if (c.drains === prev.drains) {
      // No drain since: the drain time rebuilt from the age would move by the microseconds
      // between reading the age and the clock here, and 0 records over them would read as 0/s.
      this.#prev = prev;
    } else {
      const drainAt = this.#now() - c.lastDrainAgeS * 1000;
      const dt = (drainAt - prev.drainAt) / 1000;
      const rate = dt > 0 ? Math.round((c.records - prev.records) / dt) : prev.rate;
      this.#prev = { drains: c.drains, drainAt, records: c.records, rate };
    }
    const rate = this.#prev.rate;
    const share = attributedShare(c);
    return {
      recordsPerS: rate,
      records: c.records,
      lost: c.lostRecords,
      late: c.lateRecords,
      carried: c.carriedRows,
      readErrors: c.readErrors,
      unseenRuns: c.unseenRuns,
      rows: c.rowsWritten,
      rowsLost: c.rowsLost,
      rowsUnnamedAtStart: c.rowsUnnamedAtStart,
      files: c.files,
      bytesOnDisk: c.bytesOnDisk,
      attributedCpuShare: share === null ? null : Number(share.toFixed(4)),
      nri: c.nri?.state ?? "off",
      nriReconnects: c.nri?.reconnects ?? 0,
      nriLastError: c.nri?.lastError ?? null,
      rssBytes: c.rssBytes,
      heapUsedBytes: c.heapUsedBytes,
      drainP99Ms: Number((c.drainP99S * 1000).toFixed(2)),
      sizes: c.sizes,
    };
  }

  /** The same counters as strings, for a Parquet file's key/value metadata (`podperf.agent.*`). */
  fileMetadata(): Record<string, string> {
    const c = this.#read();
    const share = attributedShare(c);
    return {
      "podperf.agent.records": String(c.records),
      "podperf.agent.lost_records": String(c.lostRecords),
      "podperf.agent.late_records": String(c.lateRecords),
      "podperf.agent.carried_rows": String(c.carriedRows),
      "podperf.agent.read_errors": String(c.readErrors),
      "podperf.agent.unseen_runs": String(c.unseenRuns),
      "podperf.agent.rows_written": String(c.rowsWritten),
      "podperf.agent.rows_lost": String(c.rowsLost),
      "podperf.agent.rows_unnamed_at_start": String(c.rowsUnnamedAtStart),
      "podperf.agent.files": String(c.files),
      "podperf.agent.attributed_cpu_share": share === null ? "" : share.toFixed(4),
      "podperf.agent.nri_state": c.nri?.state ?? "off",
      "podperf.agent.nri_reconnects": String(c.nri?.reconnects ?? 0),
      "podperf.agent.rss_bytes": String(c.rssBytes),
    };
  }

  /** Prometheus text (0.0.4) of the agent's own counters, `podperf_*` with units in the names. */
  renderMetrics(): string {
    const c = this.#read();
    const out: string[] = [];
    const family = (name: string, type: string, help: string, samples: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    const one = (name: string, type: string, help: string, v: number) =>
      family(name, type, help, [`${name} ${fmt(v)}`]);
    one("podperf_records_total", "counter", "Ring buffer records aggregated.", c.records);
    one("podperf_drains_total", "counter", "Drains of the ring buffer.", c.drains);
    one(
      "podperf_records_lost_total",
      "counter",
      "Records the kernel dropped for want of ring space.",
      c.lostRecords,
    );
    one(
      "podperf_records_late_total",
      "counter",
      "Records that arrived after their slot closed.",
      c.lateRecords,
    );
    one(
      "podperf_rows_carried_total",
      "counter",
      "Rows carrying CPU time from before their slot.",
      c.carriedRows,
    );
    one("podperf_read_errors_total", "counter", "Failed counter reads in BPF.", c.readErrors);
    one(
      "podperf_runs_unseen_total",
      "counter",
      "Runs no sched_switch showed begin: CPU time kept, counters null.",
      c.unseenRuns,
    );
    one("podperf_rows_written_total", "counter", "Rows in completed Parquet files.", c.rowsWritten);
    one("podperf_rows_lost_total", "counter", "Rows that could not be written.", c.rowsLost);
    one(
      "podperf_rows_unnamed_at_start_total",
      "counter",
      "Rows written without pod columns because metadata was not ready at start.",
      c.rowsUnnamedAtStart,
    );
    one("podperf_files_written_total", "counter", "Parquet files completed.", c.files);
    one(
      "podperf_output_bytes",
      "gauge",
      "Bytes of Parquet files in the output directory.",
      c.bytesOnDisk,
    );
    const share = attributedShare(c);
    if (share !== null) {
      one(
        "podperf_cpu_attributed_ratio",
        "gauge",
        "Share of sampled CPU time attributed to a pod.",
        share,
      );
    }
    one(
      "podperf_cpu_sampled_seconds_total",
      "counter",
      "CPU time seen in samples.",
      (c.knownCpuNs + c.unknownCpuNs) / 1e9,
    );
    one("podperf_resident_memory_bytes", "gauge", "Resident set size of the agent.", c.rssBytes);
    one("podperf_heap_used_bytes", "gauge", "JavaScript heap in use.", c.heapUsedBytes);
    family(
      "podperf_v8_heap_bytes",
      "gauge",
      "V8 heap of each isolate: used, committed (pages held) and external (ArrayBuffer contents).",
      Object.entries(c.heaps).flatMap(([isolate, h]) =>
        (["used", "committed", "external"] as const).map((kind) =>
          `podperf_v8_heap_bytes{isolate="${isolate}",kind="${kind}"} ${fmt(h[`${kind}Bytes`])}`
        )
      ),
    );
    one(
      "podperf_last_drain_age_seconds",
      "gauge",
      "Seconds since the ring buffer was last drained.",
      c.lastDrainAgeS,
    );
    one(
      "podperf_drain_p99_seconds",
      "gauge",
      "99th percentile of recent drain durations.",
      c.drainP99S,
    );
    if (c.nri) {
      family(
        "podperf_nri_state",
        "gauge",
        "NRI plugin state (1 for the current one).",
        NRI_STATES.map((s) => `podperf_nri_state{state="${s}"} ${c.nri!.state === s ? 1 : 0}`),
      );
      one("podperf_nri_syncs_total", "counter", "NRI synchronizations applied.", c.nri.syncs);
      one(
        "podperf_nri_reconnects_total",
        "counter",
        "NRI sessions ended and started again.",
        c.nri.reconnects,
      );
      one(
        "podperf_nri_deadline_misses_total",
        "counter",
        "NRI sessions dropped for missing a start-up deadline.",
        c.nri.deadlineMisses,
      );
    }
    family(
      "podperf_structure_entries",
      "gauge",
      "Entries held by each bounded structure of the agent.",
      Object.entries(c.sizes).map(([k, v]) =>
        `podperf_structure_entries{structure="${k}"} ${fmt(v)}`
      ),
    );
    one(
      "podperf_uptime_seconds",
      "gauge",
      "Seconds since the collector started.",
      (this.#now() - this.#started) / 1000,
    );
    return out.join("\n") + "\n";
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

/**
 * A fixed window of recent durations for the drain's p99: bounded memory, O(window) per read
 * (read once per stats line or scrape, not per drain).
 */
export class DurationWindow {
  #buf: Float64Array;
  #n = 0;
  #i = 0;

  constructor(size = 1024) {
    this.#buf = new Float64Array(size);
  }

  /** Records one duration. */
  add(v: number): void {
    this.#buf[this.#i] = v;
    this.#i = (this.#i + 1) % this.#buf.length;
    if (this.#n < this.#buf.length) this.#n++;
  }

  /** The q-quantile (0..1) of the window, 0 when empty. */
  quantile(q: number): number {
    if (this.#n === 0) return 0;
    const sorted = this.#buf.slice(0, this.#n).sort();
    return sorted[Math.min(this.#n - 1, Math.floor(q * this.#n))];
  }
}
