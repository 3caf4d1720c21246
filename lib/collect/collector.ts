/**
 * `podperf collect`: sampler → slot aggregator → metadata join → rotating Parquet writer, plus
 * the NRI plugin and the metadata fallbacks, run together until a duration or a signal.
 */
import { SlotAggregator, type SlotRow } from "../aggregate/mod.ts";
import { AgentStats, DurationWindow } from "../agent/agent_stats.ts";
import { assertHostPidNamespace } from "../agent/host_pid.ts";
import { AgentHttpServer } from "../agent/http_server.ts";
import type { MetricsSource } from "../agent/metrics_source.ts";
import type { RowSink } from "../sink.ts";
import { log } from "../log.ts";
import {
  CgroupPathIndex,
  containerdTaskDir,
  MetadataResolver,
  MetadataStore,
  OciBundleWatcher,
} from "../metadata/mod.ts";
import { type NriPluginHandle, startNriPlugin } from "../nri/mod.ts";
import { type ClosedFileInfo, type HeapBytes, type OutputRow, ParquetSink } from "../output/mod.ts";
import { packRows } from "../output/row_batch.ts";
import {
  type CounterSource,
  measureMonoToWallOffsetNs,
  measureRecordRate,
  monoNowNs,
  raiseDrainPriority,
  RING_RECORD_BYTES,
  ringBytesFor,
  Sampler,
} from "../sampler/mod.ts";
import { onlineCpus } from "../sampler/cpus.ts";
import { holdMallocHeadroom } from "../malloc.ts";
import { agentHealthChecks, outputBytes } from "./health.ts";
import { type JoinCoverage, SlotJoiner } from "./join.ts";
import { RunTotals } from "./run_totals.ts";
import { StartupGate } from "./startup_gate.ts";
import { RingWatch } from "./ring_watch.ts";
import type { Uploader } from "../upload/uploader.ts";
import { PodSeries } from "../metrics/mod.ts";
import { VERSION } from "../version.ts";

/** Options of collect(). */
export interface CollectOptions {
  /** Existing or creatable directory for the Parquet files. */
  outputDir: string;
  /** Stop after this many ms; undefined runs until `signal` aborts. */
  durationMs?: number;
  /** Slot length and tick period in ns (default 1 ms). */
  intervalNs?: bigint;
  /** Counters to open (default all). */
  counters?: string[];
  /** Ring buffer bytes, a power of two (default: ringBytesFor the rate measured at start). */
  ringBytes?: number;
  /** NRI socket; null disables the plugin. */
  nriSocket: string | null;
  /** Two-digit NRI plugin index (default "10"). */
  nriIndex?: string;
  /** Node name for the `node` column and file names. */
  node: string;
  /** Rotate files at this size (default 256 MiB) and age (default 10 min). */
  rotateBytes?: number;
  rotateAgeMs?: number;
  /** Retention of complete files: bytes and age kept (default: no limit). */
  retainBytes?: number;
  retainAgeMs?: number;
  /**
   * Longest wait between drains (default MAX_DRAIN_WAIT_MS). Within it the wait follows the
   * record rate (see drainWaitMs), and the kernel wakes the drain sooner whenever a quarter of
   * the ring fills.
   */
  drainIntervalMs?: number;
  /** Use OCI bundles and cgroup paths for cgroups NRI does not know (default true). */
  fallbacks?: boolean;
  /** containerd state dirs whose task bundles the OCI fallback reads (default /run/containerd). */
  containerdStateDirs?: string[];
  /** Removed containers stay resolvable this long, ms (default 10 s). */
  gracePeriodMs?: number;
  /** Stops the collection (SIGINT/SIGTERM in the CLI). */
  signal?: AbortSignal;
  /**
   * Keep per-process run totals for a summary (default true). A node agent that prints no
   * summary passes false: its memory then does not grow with every process ever seen.
   */
  keepTotals?: boolean;
  /** Period of the one-line stats record, ms (default 60 000; 0 turns it off). */
  statsIntervalMs?: number;
  /** Serve /healthz, /readyz and /metrics on this HOST:PORT (off by default). */
  listen?: string;
  /** More `/metrics` sources (per-pod series, upload stats). */
  metricsSources?: readonly MetricsSource[];
  /** More consumers of the joined rows (e.g. per-pod series); closed after the writer. */
  sinks?: readonly RowSink[];
  /** How long the first rows wait for pod metadata before going on unnamed, ms (default 2000). */
  startupWaitMs?: number;
  /**
   * Ships completed files off the node; closed after the writer. Its stats() and
   * renderMetrics() are for the stats line and /metrics, keep() for retention.
   */
  upload?: Pick<Uploader, "start" | "enqueue" | "close" | "keep" | "stats" | "renderMetrics">;
  /** Per-pod series on /metrics (with `listen`): split by process name, most series kept. */
  podMetrics?: { byProcess?: boolean; maxSeries?: number };
  /**
   * Benchmarks only: the records go no further than this step (default: the whole path). The
   * stages bench runs one collector per step side by side, so each step's cost is the
   * difference of two processes under the same load and the same host noise. `podperf collect`
   * takes it from BENCH_STOP_ENV.
   */
  benchStopAfter?: BenchStop;
}

/** Where a benchmark may cut the path short: the records are read from the ring and dropped,
 * or aggregated into rows that are dropped, or joined, or packed for the writer and dropped. */
export const BENCH_STOPS = ["ring", "aggregate", "join", "pack"] as const;
/** One of BENCH_STOPS. */
export type BenchStop = typeof BENCH_STOPS[number];
/** The environment variable `podperf collect` reads benchStopAfter from. */
export const BENCH_STOP_ENV = "PODPERF_BENCH_STOP_AFTER";

/**
 * Shortest slot the pipeline sustains, measured on a 2-CPU VM under load (BENCHMARKS.md, soak):
 * 100us lost nothing and kept time; 50us lost 10% of records and a 3 s run took 10 s; 10us
 * lost 93% and took 31 s.
 */
export const MIN_INTERVAL_NS = 100_000n;

/**
 * Shortest and longest wait between drains. Each wake-up costs more than the work on a VM: a
 * drain of ~40 records after a second asleep took 3–14 ms of cold caches (a 1 s wait cut the
 * idle cost by 40% against 50 ms, and 5 s cut it again against 1 s: BENCHMARKS.md, eighth pass).
 * But a drain runs at real-time priority (SCHED_RR), and one that takes a second of a busy
 * node's records at once is a burst of tens of ms that shows as run-queue delay in the pods
 * sharing its CPU (the live report test's service no longer stood out against its own baseline
 * when a hog arrived). So the wait follows the record rate: a drain takes about
 * DRAIN_TARGET_RECORDS, which is 50 ms of a busy node and 5 s of a quiet one, as often as the
 * writer is handed rows anyway (DEFAULT_POST_INTERVAL_MS). /metrics and the held runs of idle
 * CPUs lag by as much.
 *
 * The target is 1,024 records. Under a sched-pipe pair (~3 k records/s), four collectors side by
 * side: 512 cost 1.3–2.0% of one CPU, 1,024 0.2–0.5 points less (fewer wake-ups of the loop and
 * of the runtime thread that waits on the ring), 2,048 and 4,096 not clearly less. A drain of
 * 1,024 took 0.9 ms (p50, p99 3.5 ms) against 0.6 ms for 512; one of 2,048 took 2.7 ms (p99 11
 * ms): more per record, as its garbage overflows the young generation mid-drain.
 */
export const MIN_DRAIN_WAIT_MS = 50;
export const MAX_DRAIN_WAIT_MS = 5000;
/** Records a drain aims to take at once (see MIN_DRAIN_WAIT_MS). */
export const DRAIN_TARGET_RECORDS = 1024;

/**
 * The wait before the next drain: the time the last drain's rate (`records` in `elapsedMs`)
 * needs to bring DRAIN_TARGET_RECORDS, within [min(MIN_DRAIN_WAIT_MS, longest), longest].
 */
export function drainWaitMs(records: number, elapsedMs: number, longestMs: number): number {
  const shortest = Math.min(MIN_DRAIN_WAIT_MS, longestMs);
  if (!(elapsedMs > 0)) return shortest;
  const wait = DRAIN_TARGET_RECORDS * elapsedMs / Math.max(records, 1);
  return Math.min(longestMs, Math.max(shortest, wait));
}

/** Most completed files listed in a CollectResult (an agent closes ~144 a day). */
export const MAX_LISTED_FILES = 10_000;
/** Default period of the stats record. */
export const DEFAULT_STATS_INTERVAL_MS = 60_000;

/** What a collection did. */
export interface CollectResult {
  files: ClosedFileInfo[];
  rowsWritten: number;
  rowsLost: number;
  records: number;
  lostRecords: bigint;
  lateRecords: number;
  counters: CounterSource[];
  coverage: JoinCoverage;
  /** One merged row per (process, cgroup) over the whole run (empty without keepTotals). */
  totals: OutputRow[];
  /** Rows written without pod columns because metadata was not ready in the start-up wait. */
  rowsUnnamedAtStart: number;
  /** First and last slot start of the run (CLOCK_MONOTONIC ns). */
  window: { from: bigint; to: bigint } | null;
  intervalNs: bigint;
  cpus: number;
  nriConnected: boolean;
  elapsedMs: number;
}

const HW = new Set(["cycles", "instructions", "llc_misses"]);

function memory(): { rssBytes: number; heapUsedBytes: number; loopHeap: HeapBytes } {
  const m = Deno.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    loopHeap: { usedBytes: m.heapUsed, committedBytes: m.heapTotal, externalBytes: m.external },
  };
}

/** One line describing where each counter comes from, for the start-up log. */
export function describeCounters(sources: readonly CounterSource[]): string {
  return sources.map((c) => `${c.name}=${c.source}${c.detail ? ` (${c.detail})` : ""}`).join(
    ", ",
  );
}

/**
 * Runs a collection and returns its totals. The current Parquet file is finished on every
 * exit path, so every row counted in `rowsWritten` is in a complete file.
 */
export async function collect(opts: CollectOptions): Promise<CollectResult> {
  const started = performance.now();
  const intervalNs = opts.intervalNs ?? 1_000_000n;
  if (intervalNs < MIN_INTERVAL_NS) {
    throw new RangeError(`interval ${intervalNs} ns is below the floor of ${MIN_INTERVAL_NS} ns`);
  }
  // Before anything is opened: outside the host's pid namespace every pid would be wrong.
  assertHostPidNamespace();
  // First: on a saturated node the rest of the start-up (and every thread started from here,
  // which inherits the policy) would otherwise wait behind every runnable task.
  const priority = raiseDrainPriority();
  // Before the writer Worker starts, so that its arena gets the headroom from its first block.
  const heap = holdMallocHeadroom();
  await Deno.mkdir(opts.outputDir, { recursive: true });
  // files left by an earlier run are queued before this run adds its own
  await opts.upload?.start();
  const offset = measureMonoToWallOffsetNs();
  // The ring holds RING_HOLD_S of what this node produces now (lib/sampler/ring_size.ts).
  const measuredRate = opts.ringBytes === undefined
    ? await measureRecordRate(onlineCpus().length, intervalNs)
    : null;
  const ringBytes = opts.ringBytes ?? ringBytesFor(measuredRate!);
  // The sampler first: without it (no root, no BTF, no libbpf) nothing else should start.
  const sampler = Sampler.open({ intervalNs, counters: opts.counters, ringBytes });
  const attachedAt = performance.now();
  const counters = sampler.counterSources;
  const cpus = sampler.cpus.length;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener("abort", onAbort);
  if (opts.signal?.aborted) stop.abort();

  // Everything below is released in the one finally block, whichever step failed.
  let nri: NriPluginHandle | null = null;
  let oci: OciBundleWatcher | null = null;
  let paths: CgroupPathIndex | null = null;
  let resolver: MetadataResolver | null = null;
  let podSeries: PodSeries | null = null;
  let writer: ParquetSink | null = null;
  let agg: SlotAggregator | null = null;
  let coverage: JoinCoverage | null = null;
  let server: AgentHttpServer | null = null;
  let statsTimer: ReturnType<typeof setInterval> | undefined;
  let gate: StartupGate | null = null;
  let stats = sampler.stats();
  let writeFailuresSeen = 0;
  let lastWriteFailureAt = -Infinity;
  let filesClosed = 0;
  let carriedRows = 0;
  let rowsUnnamedAtStart = 0;
  // rows the bench's cut reached and handled: what a cut that did nothing would not have
  let benchStopRows = 0;
  let bytesOnDisk = 0;
  let attached = true;
  let metadataReady = false;
  let lastDrainAt = performance.now();
  let drains = 0;
  const drainTimes = new DurationWindow();
  const totals = opts.keepTotals ?? true ? new RunTotals() : null;
  const files: ClosedFileInfo[] = [];
  const store = new MetadataStore({ gracePeriodMs: opts.gracePeriodMs });
  let add: (view: DataView, off: number) => void = () => {};
  /** Drains the ring into `a`; returns the records taken. */
  const drainOnce = (a: SlotAggregator): number => {
    const t0 = performance.now();
    const now = monoNowNs();
    const n = sampler.drain(add);
    a.advance(now);
    lastDrainAt = performance.now();
    drains++;
    drainTimes.add((lastDrainAt - t0) / 1000);
    return n;
  };
  // The agent's own counters, read fresh by the stats line, /metrics and each file's metadata.
  const agentStats = new AgentStats(() => {
    const s = attached ? sampler.stats() : stats;
    const w = writer?.stats();
    const mem = memory();
    const heaps: Record<string, HeapBytes> = { loop: mem.loopHeap };
    if (w) heaps.writer = w.writerHeap;
    const series = podSeries?.stats();
    const a = agg?.stats();
    const cov = coverage;
    return {
      records: a?.records ?? 0,
      lostRecords: Number(s.lost),
      lateRecords: a?.lateRecords ?? 0,
      carriedRows,
      readErrors: Number(s.readErrors),
      unseenRuns: Number(s.unseen),
      rowsWritten: w?.rowsWritten ?? 0,
      // rows the writer could not take (queue full) are lost as surely as a failed write's
      rowsLost: (w?.rowsLost ?? 0) + (w?.rowsDropped ?? 0),
      rowsUnnamedAtStart,
      files: filesClosed,
      bytesOnDisk,
      knownCpuNs: cov?.knownCpuNs ?? 0,
      unknownCpuNs: cov?.unknownCpuNs ?? 0,
      rssBytes: mem.rssBytes,
      heapUsedBytes: mem.heapUsedBytes,
      heaps,
      lastDrainAgeS: (performance.now() - lastDrainAt) / 1000,
      drains,
      drainP99S: drainTimes.quantile(0.99),
      nri: nri && {
        state: nri.stats.state,
        syncs: nri.stats.syncs,
        reconnects: nri.stats.reconnects,
        deadlineMisses: nri.stats.deadlineMisses,
        lastError: nri.stats.lastError,
      },
      sizes: {
        metadata_store: store.size,
        nri_pending_updates: nri?.stats.pendingUpdates ?? 0,
        resolver_cache: resolver?.size ?? 0,
        oci_bundles: oci?.size ?? 0,
        oci_pending_reads: oci?.stats().pending ?? 0,
        cgroup_paths: paths?.size ?? 0,
        aggregator_open_entries: a?.openEntries ?? 0,
        startup_held_rows: gate?.heldRows ?? 0,
        run_totals: totals?.size ?? 0,
        pod_series: series?.series ?? 0,
        pod_series_cgroups: series?.cgroups ?? 0,
        writer_pending_rows: w?.rowsQueued ?? 0,
        writer_files_syncing: w?.filesSyncing ?? 0,
      },
    };
  });
  try {
    const missingHw = counters.filter((c) => HW.has(c.name) && c.source !== "hardware");
    log.info("counters", { counters: describeCounters(counters) });
    // The drain must not lose the CPU to a saturated node (lib/sampler/priority.ts).
    log.info("drain priority", { ...priority });
    // ...nor wait on a kernel lock while its heaps grow (lib/malloc.ts).
    if (heap.source === "none") log.warn("malloc headroom not set", { ...heap });
    else log.info("malloc headroom", { ...heap });
    log.info("ring buffer", {
      bytes: ringBytes,
      sizedFrom: measuredRate === null ? "--ring-size" : "measured record rate",
      recordsPerS: measuredRate,
      holdsS: measuredRate
        ? Number((ringBytes / RING_RECORD_BYTES / measuredRate).toFixed(3))
        : null,
    });
    if (missingHw.length) {
      log.warn("hardware counters unavailable: their columns are NULL in the output", {
        counters: missingHw.map((c) => c.name).join(","),
        reason: missingHw[0].detail,
      });
    }
    // Without a socket the plugin says so once and keeps retrying quietly with backoff.
    // The first rows wait (bounded) for whichever metadata source is ready first.
    const metadataSources: Promise<unknown>[] = [];
    if (opts.nriSocket !== null) {
      nri = startNriPlugin({ socketPath: opts.nriSocket, store, pluginIndex: opts.nriIndex });
      metadataSources.push(nri.synchronized);
    }
    if (opts.fallbacks ?? true) {
      oci = new OciBundleWatcher({
        containerdTaskDirs: (opts.containerdStateDirs ?? ["/run/containerd"]).map(
          containerdTaskDir,
        ),
      });
      try {
        paths = new CgroupPathIndex();
      } catch (e) {
        log.warn("cgroup path fallback off", { error: (e as Error).message });
      }
      const walked = paths?.refresh().catch((e) => {
        log.warn("cgroup walk failed", { error: String(e) });
      });
      metadataSources.push(Promise.all([oci.ready, walked]));
    }
    const onMetadataReady = () => {
      metadataReady = true;
      gate?.ready();
    };
    if (metadataSources.length === 0) metadataReady = true;
    else Promise.any(metadataSources).then(onMetadataReady, () => {});
    resolver = new MetadataResolver({ store, oci, paths });
    // Per-pod series expire by the store's view of each container (removed + grace period).
    podSeries = opts.listen === undefined ? null : new PodSeries({
      node: opts.node,
      counters,
      byProcess: opts.podMetrics?.byProcess,
      maxSeries: opts.podMetrics?.maxSeries,
      gracePeriodMs: store.gracePeriodMs,
      intervalNs,
      // measured at each scrape: the files' offset moves with a clock step (the sink completes a
      // file then), and the gauge must follow it too
      monoToWallOffsetNs: measureMonoToWallOffsetNs,
      liveness: (id) => {
        const e = store.getByContainerId(id);
        return e === undefined ? "unknown" : e.removedAt === null ? "live" : "removed";
      },
    });
    const joiner = new SlotJoiner(resolver);
    coverage = joiner.coverage;
    // Encoding and file IO run in the writer's Worker: append() never blocks this loop.
    const upload = opts.upload;
    const out = writer = await ParquetSink.open({
      dir: opts.outputDir,
      prefix: `podperf-${opts.node}`,
      maxBytes: opts.rotateBytes ?? 256 << 20,
      maxAgeMs: opts.rotateAgeMs ?? 600_000,
      retainBytes: opts.retainBytes,
      retainAgeMs: opts.retainAgeMs,
      // retention never deletes a file the uploader has not shipped yet
      keep: upload ? (path) => upload.keep(path) : undefined,
      metadata: {
        version: VERSION,
        node: opts.node,
        intervalNs,
        monoToWallOffsetNs: offset,
        counters,
        cpus,
      },
      onFileClosed: (info) => {
        // a file salvaged from a writer that died is an earlier run's: shipped, not counted
        if (info.salvaged !== "writer-died") {
          filesClosed++;
          bytesOnDisk += info.bytes;
          files.push(info);
          if (files.length > MAX_LISTED_FILES) files.shift();
        }
        log.info("parquet file complete", { ...info });
        opts.upload?.enqueue(info.path);
      },
      // The agent's counters in each file's key/value metadata.
      extraMetadata: () => agentStats.fileMetadata(),
    });
    const stopAfter = opts.benchStopAfter;
    const sink = (rows: SlotRow[], early: boolean) => {
      if (stopAfter === "aggregate") {
        benchStopRows += rows.length;
        return;
      }
      const joined = joiner.join(rows);
      if (stopAfter === "join") {
        benchStopRows += joined.length;
        return;
      }
      if (stopAfter === "pack") {
        benchStopRows += packRows(joined).batch.rows;
        return;
      }
      for (const r of joined) {
        if ((r as { carried?: boolean }).carried) carriedRows++;
        if (early && r.metaSource === null) rowsUnnamedAtStart++;
      }
      totals?.append(joined);
      podSeries?.append(joined); // never throws (counts its own failures)
      // A sink never throws into the drain loop (lib/sink.ts); one that does is contained here.
      for (const extra of opts.sinks ?? []) {
        try {
          extra.append(joined);
        } catch (e) {
          log.throttled("sink-error", "error", "a row sink failed", { error: String(e) });
        }
      }
      out.append(joined);
    };
    gate = new StartupGate({ emit: sink, waitMs: opts.startupWaitMs });
    if (metadataReady) gate.ready();
    const held = gate;
    const a = agg = new SlotAggregator({
      intervalNs,
      cpus,
      startNs: sampler.attachedAtNs,
      onRows: (rows: SlotRow[]) => held.push(rows),
    });
    if (stopAfter !== "ring") add = a.add.bind(a);
    const ringWatch = new RingWatch({
      lost: () => sampler.stats().lost,
      records: () => a.stats().records,
      ringBytes,
      since: attachedAt,
    });

    void outputBytes(opts.outputDir).then((n) => (bytesOnDisk = n));
    const statsEvery = opts.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    if (statsEvery > 0) {
      statsTimer = setInterval(() => {
        const up = opts.upload?.stats();
        log.info("stats", up ? { ...agentStats.record(), upload: up } : agentStats.record());
        // Retention and other writers change the directory: re-measure off the loop's path.
        void outputBytes(opts.outputDir).then((n) => (bytesOnDisk = n));
      }, statsEvery);
    }
    const longestWaitMs = opts.drainIntervalMs ?? MAX_DRAIN_WAIT_MS;
    if (opts.listen !== undefined) {
      server = new AgentHttpServer({
        address: opts.listen,
        ...agentHealthChecks({
          lastDrainAt: () => lastDrainAt,
          maxDrainAgeMs: Math.max(20_000, 4 * longestWaitMs),
          attached: () => attached,
          lastWriteFailureAt: () => lastWriteFailureAt,
          metadataReady: () => metadataReady,
        }),
        metrics: [
          agentStats,
          ...(podSeries ? [podSeries] : []),
          ...(opts.metricsSources ?? []),
          ...(opts.upload ? [opts.upload] : []),
        ],
      });
      log.info("listening", { address: opts.listen, port: server.port });
    }

    log.info("collecting", {
      output: opts.outputDir,
      intervalNs,
      cpus,
      durationMs: opts.durationMs ?? null,
      nriSocket: opts.nriSocket,
    });
    const deadline = opts.durationMs === undefined ? Infinity : started + opts.durationMs;
    let nextWait = Math.min(MIN_DRAIN_WAIT_MS, longestWaitMs);
    while (!stop.signal.aborted && performance.now() < deadline) {
      const wait = Math.min(nextWait, deadline - performance.now());
      const since = lastDrainAt;
      // Woken early when the ring fills past its wake level (fill level, not every record).
      await sampler.waitForData(Math.max(wait, 0), stop.signal);
      const n = drainOnce(a);
      nextWait = drainWaitMs(n, lastDrainAt - since, longestWaitMs);
      held.check();
      ringWatch.check();
      // the writer counts and logs its failures (throttled); readiness wants the last one's time
      const failures = out.stats().writeErrors;
      if (failures > writeFailuresSeen) {
        writeFailuresSeen = failures;
        lastWriteFailureAt = performance.now();
      }
    }
  } finally {
    try {
      clearInterval(statsTimer);
      // Order matters: detach first so the last drain sees everything the kernel will produce.
      stats = sampler.stats();
      sampler.detach();
      attached = false;
      if (agg) {
        drainOnce(agg);
        stats = sampler.stats();
        agg.flush();
        // A run shorter than the wait still writes its rows.
        if (metadataReady) gate?.ready();
        else gate?.flush();
      }
    } finally {
      // Even when a step failed: the file is finished and every source released.
      sampler.close();
      opts.signal?.removeEventListener("abort", onAbort);
      try {
        await writer?.close();
        // the last file goes up too, within a bounded wait; the rest waits for the next start
        await opts.upload?.close();
      } finally {
        for (const extra of opts.sinks ?? []) {
          await extra.close().catch((e) =>
            log.error("a row sink failed to close", { error: String(e) })
          );
        }
        await server?.close();
        resolver?.close();
        await oci?.close();
        await paths?.pending;
        await nri?.close();
      }
    }
  }

  const aggStats = agg!.stats();
  const out = writer!.stats();
  const result: CollectResult = {
    files,
    rowsWritten: out.rowsWritten,
    // rows the writer could not take (queue full) are lost as surely as a failed write's
    rowsLost: out.rowsLost + out.rowsDropped,
    records: aggStats.records,
    lostRecords: stats.lost,
    lateRecords: aggStats.lateRecords,
    counters,
    coverage: coverage!,
    totals: totals?.rows() ?? [],
    window: totals?.window() ?? null,
    rowsUnnamedAtStart,
    intervalNs,
    cpus,
    nriConnected: (nri?.stats.syncs ?? 0) > 0,
    elapsedMs: performance.now() - started,
  };
  const cov = result.coverage;
  const total = cov.knownCpuNs + cov.unknownCpuNs;
  log.info("collection finished", {
    records: result.records,
    lost: result.lostRecords,
    late: result.lateRecords,
    rows: result.rowsWritten,
    rowsLost: result.rowsLost,
    files: filesClosed,
    rowsUnnamedAtStart,
    writeFailures: out.writeErrors,
    // held runs a CPU could not be made to send before a drain (they went out later, on time
    // or late, never lost)
    flushErrors: stats.flushErrors,
    // runs no switch showed begin (docs/DESIGN.md): CPU time kept, counters null
    unseenRuns: Number(stats.unseen),
    attributedCpuShare: total > 0 ? Number((cov.knownCpuNs / total).toFixed(4)) : null,
    elapsedMs: Math.round(result.elapsedMs),
    ...(opts.benchStopAfter && { benchStop: { after: opts.benchStopAfter, rows: benchStopRows } }),
  });
  return result;
}
