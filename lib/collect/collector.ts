/**
 * `podperf collect`: sampler → slot aggregator → metadata join → rotating Parquet writer, plus
 * the NRI plugin and the metadata fallbacks, run together until a duration or a signal.
 */
import { SlotAggregator, type SlotRow } from "../aggregate/mod.ts";
import { log } from "../log.ts";
import {
  CgroupPathIndex,
  containerdTaskDir,
  MetadataResolver,
  MetadataStore,
  OciBundleWatcher,
} from "../metadata/mod.ts";
import { type NriPluginHandle, startNriPlugin } from "../nri/mod.ts";
import { type ClosedFileInfo, type OutputRow, ParquetSink } from "../output/mod.ts";
import {
  type CounterSource,
  measureMonoToWallOffsetNs,
  monoNowNs,
  Sampler,
} from "../sampler/mod.ts";
import { type JoinCoverage, SlotJoiner } from "./join.ts";
import { RunTotals } from "./run_totals.ts";
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
  /** How often the ring buffer is drained (default 50 ms). */
  drainIntervalMs?: number;
  /** Use OCI bundles and cgroup paths for cgroups NRI does not know (default true). */
  fallbacks?: boolean;
  /** containerd state dirs whose task bundles the OCI fallback reads (default /run/containerd). */
  containerdStateDirs?: string[];
  /** Removed containers stay resolvable this long, ms (default 10 s). */
  gracePeriodMs?: number;
  /** Stops the collection (SIGINT/SIGTERM in the CLI). */
  signal?: AbortSignal;
}

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
  /** One merged row per (process, cgroup) over the whole run. */
  totals: OutputRow[];
  /** First and last slot start of the run (CLOCK_MONOTONIC ns). */
  window: { from: bigint; to: bigint } | null;
  intervalNs: bigint;
  cpus: number;
  nriConnected: boolean;
  elapsedMs: number;
}

const HW = new Set(["cycles", "instructions", "llc_misses"]);

/** One line describing where each counter comes from, for the start-up log. */
export function describeCounters(sources: readonly CounterSource[]): string {
  return sources.map((c) => `${c.name}=${c.source}${c.detail ? ` (${c.detail})` : ""}`).join(
    ", ",
  );
}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Runs a collection and returns its totals. The current Parquet file is finished on every
 * exit path, so every row counted in `rowsWritten` is in a complete file.
 */
export async function collect(opts: CollectOptions): Promise<CollectResult> {
  const started = performance.now();
  const intervalNs = opts.intervalNs ?? 1_000_000n;
  await Deno.mkdir(opts.outputDir, { recursive: true });
  const offset = measureMonoToWallOffsetNs();
  // The sampler first: without it (no root, no BTF, no libbpf) nothing else should start.
  const sampler = Sampler.open({ intervalNs, counters: opts.counters });
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
  let writer: ParquetSink | null = null;
  let agg: SlotAggregator | null = null;
  let coverage: JoinCoverage | null = null;
  let stats = sampler.stats();
  const totals = new RunTotals();
  const files: ClosedFileInfo[] = [];
  const store = new MetadataStore({ gracePeriodMs: opts.gracePeriodMs });
  let add: (view: DataView, off: number) => void = () => {};
  const drainOnce = (a: SlotAggregator) => {
    const now = monoNowNs();
    sampler.drain(add);
    a.advance(now);
  };
  try {
    const missingHw = counters.filter((c) => HW.has(c.name) && c.source !== "hardware");
    log.info("counters", { counters: describeCounters(counters) });
    if (missingHw.length) {
      log.warn("hardware counters unavailable: their columns are NULL in the output", {
        counters: missingHw.map((c) => c.name).join(","),
        reason: missingHw[0].detail,
      });
    }
    // Without a socket the plugin says so once and keeps retrying quietly with backoff.
    if (opts.nriSocket !== null) {
      nri = startNriPlugin({ socketPath: opts.nriSocket, store, pluginIndex: opts.nriIndex });
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
    }
    resolver = new MetadataResolver({ store, oci, paths });
    const joiner = new SlotJoiner(resolver);
    coverage = joiner.coverage;
    // Encoding and file IO run in the writer's Worker: append() never blocks this loop.
    const out = writer = await ParquetSink.open({
      dir: opts.outputDir,
      prefix: `podperf-${opts.node}`,
      maxBytes: opts.rotateBytes ?? 256 << 20,
      maxAgeMs: opts.rotateAgeMs ?? 600_000,
      retainBytes: opts.retainBytes,
      retainAgeMs: opts.retainAgeMs,
      metadata: {
        version: VERSION,
        node: opts.node,
        intervalNs,
        monoToWallOffsetNs: offset,
        counters,
        cpus,
      },
      onFileClosed: (info) => {
        // a file salvaged from a writer that died is not this run's
        if (info.salvaged !== "writer-died") files.push(info);
        log.info("parquet file complete", { ...info });
      },
    });
    const a = agg = new SlotAggregator({
      intervalNs,
      cpus,
      onRows: (rows: SlotRow[]) => {
        const joined = joiner.join(rows);
        totals.add(joined);
        out.append(joined);
      },
    });
    add = a.add.bind(a);

    log.info("collecting", {
      output: opts.outputDir,
      intervalNs,
      cpus,
      durationMs: opts.durationMs ?? null,
      nriSocket: opts.nriSocket,
    });
    const deadline = opts.durationMs === undefined ? Infinity : started + opts.durationMs;
    while (!stop.signal.aborted && performance.now() < deadline) {
      const wait = Math.min(opts.drainIntervalMs ?? 50, deadline - performance.now());
      await abortable(Math.max(wait, 0), stop.signal);
      drainOnce(a);
    }
  } finally {
    try {
      // Order matters: detach first so the last drain sees everything the kernel will produce.
      sampler.detach();
      if (agg) {
        drainOnce(agg);
        stats = sampler.stats();
        agg.flush();
      }
    } finally {
      // Even when a step failed: the file is finished and every source released.
      sampler.close();
      opts.signal?.removeEventListener("abort", onAbort);
      try {
        await writer?.close();
      } finally {
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
    totals: totals.rows(),
    window: totals.window(),
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
    files: files.length,
    writeFailures: out.writeErrors,
    attributedCpuShare: total > 0 ? Number((cov.knownCpuNs / total).toFixed(4)) : null,
    elapsedMs: Math.round(result.elapsedMs),
  });
  return result;
}
