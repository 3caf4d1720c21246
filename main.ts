/**
 * The podperf command line: `collect`, `summary`, `report`, `pods`.
 * Errors the user can act on are printed as one line and a non-zero exit code.
 */
import cac from "cac";
import {
  BENCH_STOP_ENV,
  BENCH_STOPS,
  type BenchStop,
  collect,
  MIN_INTERVAL_NS,
} from "./lib/collect/collector.ts";
import { parseListenAddress } from "./lib/agent/http_server.ts";
import { parseBytes, parseDurationNs, UsageError } from "./lib/cli/units.ts";
import { parseBy, parseCount, parseCounters } from "./lib/cli/flags.ts";
import {
  keepNegativeValues,
  parseLogLevel,
  tidyHelp,
  unknownCommandError,
  withOptionHint,
} from "./lib/cli/help.ts";
import { checkOutputDir } from "./lib/cli/output_dir.ts";
import { printCollectSummary } from "./lib/cli/collect_summary.ts";
import { runSummaryCommand } from "./lib/cli/summary.ts";
import { log, setLogLevel } from "./lib/log.ts";
import { DEFAULT_NRI_SOCKET, runPodsCommand } from "./lib/nri/mod.ts";
import { VERSION } from "./lib/version.ts";
import { uploaderFor } from "./lib/upload/mod.ts";
import { runReport } from "./lib/cli/report.ts";

async function runCollect(o: Record<string, unknown>): Promise<number> {
  const durationNs = o.duration === undefined
    ? undefined
    : parseDurationNs("duration", o.duration as string);
  const intervalNs = parseDurationNs("interval", (o.interval as string) ?? "1ms");
  if (intervalNs < MIN_INTERVAL_NS || intervalNs > 10_000_000_000n) {
    throw new UsageError("interval", "--interval must be between 100us and 10s");
  }
  const counters = parseCounters(o.counters);
  const ringBytes = o.ringSize === undefined || o.ringSize === "auto"
    ? undefined
    : parseBytes("ring-size", String(o.ringSize));
  if (
    ringBytes !== undefined &&
    (ringBytes < 4096 || ringBytes > 2 ** 30 || (ringBytes & (ringBytes - 1)) !== 0)
  ) {
    throw new UsageError("ring-size", "--ring-size must be a power of two from 4KiB to 1GiB");
  }
  const top = parseCount("top", o.top ?? 20, 0);
  const by = parseBy(String(o.by ?? "process"));
  const rotateBytes = parseBytes("rotate-size", (o.rotateSize as string) ?? "256MiB");
  const rotateAgeMs = Number(
    parseDurationNs("rotate-age", (o.rotateAge as string) ?? "10m") / 1_000_000n,
  );
  if (rotateBytes <= 0) throw new UsageError("rotate-size", "--rotate-size must be above 0");
  if (rotateAgeMs <= 0) throw new UsageError("rotate-age", "--rotate-age must be at least 1ms");
  // retention: 0 = no limit
  const retainBytes = parseBytes("retain-size", (o.retainSize as string) ?? "2GiB");
  const retainAgeMs = Number(
    parseDurationNs("retain-age", (o.retainAge as string) ?? "168h") / 1_000_000n,
  );
  if (!/^[0-9]{2}$/.test(String(o.nriIndex ?? "10"))) {
    throw new UsageError("nri-index", `--nri-index must be two digits, got "${o.nriIndex}"`);
  }
  if (o.listen !== undefined) {
    try {
      parseListenAddress(String(o.listen));
    } catch (e) {
      throw new UsageError("listen", (e as Error).message);
    }
  }
  const outputDir = await checkOutputDir(String(o.output ?? "out"));
  // the env form lets a DaemonSet take the target from a Secret (deploy/upload/secret.yaml)
  const uploadUrl = o.upload ?? (Deno.env.get("PODPERF_UPLOAD") || undefined);
  const upload = uploadUrl === undefined
    ? undefined
    : uploaderFor(String(uploadUrl), String(o.output ?? "out"), String(o.node ?? Deno.hostname()));
  const benchStop = benchStopFromEnv();
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const result = await collect({
      outputDir,
      durationMs: durationNs === undefined ? undefined : Number(durationNs / 1_000_000n),
      intervalNs,
      counters,
      ringBytes,
      nriSocket: o.nri === false ? null : String(o.nriSocket ?? DEFAULT_NRI_SOCKET),
      nriIndex: String(o.nriIndex ?? "10"),
      node: String(o.node ?? Deno.hostname()),
      rotateBytes,
      rotateAgeMs,
      retainBytes: retainBytes > 0 ? retainBytes : undefined,
      retainAgeMs: retainAgeMs > 0 ? retainAgeMs : undefined,
      fallbacks: o.fallbacks !== false,
      containerdStateDirs: o.containerdState ? [String(o.containerdState)] : undefined,
      podMetrics: {
        byProcess: Boolean(o.metricsByProcess),
        maxSeries: parseCount("metrics-max-series", o.metricsMaxSeries ?? 10000, 1),
      },
      signal: ac.signal,
      upload,
      keepTotals: o.summary !== false,
      listen: o.listen === undefined ? undefined : String(o.listen),
      statsIntervalMs: Number(
        parseDurationNs("stats-interval", (o.statsInterval as string) ?? "60s") / 1_000_000n,
      ),
      benchStopAfter: benchStop,
    });
    if (o.summary !== false) await printCollectSummary(result, by, Boolean(o.json), top);
    return result.rowsLost > 0 ? 3 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/**
 * The stages bench's cut (bench/overhead_bench.ts) from BENCH_STOP_ENV: an env variable, not a
 * flag, so --help stays the user's. An unknown value is a usage error.
 */
function benchStopFromEnv(): BenchStop | undefined {
  const v = Deno.env.get(BENCH_STOP_ENV) || undefined;
  if (v !== undefined && !(BENCH_STOPS as readonly string[]).includes(v)) {
    throw new UsageError(
      BENCH_STOP_ENV,
      `${BENCH_STOP_ENV} must be one of ${BENCH_STOPS.join(", ")}, got ${v}`,
    );
  }
  return v as BenchStop | undefined;
}

function runPods(o: Record<string, unknown>): Promise<number> {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return runPodsCommand({
    socketPath: o.nri === false ? null : String(o.nriSocket ?? DEFAULT_NRI_SOCKET),
    json: Boolean(o.json),
    timeoutMs: Number(parseDurationNs("timeout", (o.timeout as string) ?? "10s") / 1_000_000n),
    fallbacks: o.fallbacks !== false,
    containerdStateDirs: [String(o.containerdState ?? "/run/containerd")],
    watch: Boolean(o.watch),
    signal: ac.signal,
  }).finally(() => {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  });
}

/** Builds the CLI; `run` returns the exit code. */
export function buildCli(): ReturnType<typeof cac> {
  const cli = cac("podperf");
  cli.command("collect", "Sample per-process CPU counters every interval and write Parquet")
    .option(
      "--duration <time>",
      "Stop after this long: 10s, 5m, or a bare number of seconds (default: until SIGINT/SIGTERM)",
    )
    .option("--output <dir>", "Directory for the Parquet files", { default: "out" })
    .option("--interval <time>", "Sampling interval and slot length", { default: "1ms" })
    .option(
      "--counters <list>",
      "Counters to open: cycles,instructions,llc_misses,page_faults,context_switches",
    )
    .option(
      "--ring-size <bytes>",
      "Ring buffer size, a power of two; auto holds 0.2 s of the record rate measured at " +
        "start (4MiB-64MiB)",
      { default: "auto" },
    )
    .option("--nri-socket <path>", "The runtime's NRI socket", { default: DEFAULT_NRI_SOCKET })
    .option("--nri-index <nn>", "Two-digit NRI plugin index (orders plugins in the runtime)", {
      default: "10",
    })
    .option("--no-nri", "Do not connect to the runtime over NRI")
    .option("--no-fallbacks", "Do not name pods from OCI bundles or cgroup paths")
    .option("--containerd-state <dir>", "containerd state dir for the OCI fallback", {
      default: "/run/containerd",
    })
    .option("--node <name>", "Node name for rows and file names (default: hostname)")
    .option("--rotate-size <bytes>", "Start a new file at this size", { default: "256MiB" })
    .option("--rotate-age <time>", "Start a new file at this age", { default: "10m" })
    .option(
      "--retain-size <bytes>",
      "Delete the oldest complete files beyond this total (0 = never); a busy 2-CPU node " +
        "writes ~0.8 GB/day, so ~2.5 days",
      { default: "2GiB" },
    )
    .option("--retain-age <time>", "Delete complete files older than this (0 = never)", {
      default: "168h",
    })
    .option("--metrics-by-process", "Per-pod series also split by process name (more series)")
    .option("--metrics-max-series <n>", "Most per-pod series on /metrics", { default: 10000 })
    .option("--by <key>", "Summary grouping: pod, container, process, cgroup", {
      default: "process",
    })
    .option("--top <n>", "Summary rows shown (0 = all)", { default: 20 })
    .option(
      "--upload <s3url>",
      "Upload completed files to s3://BUCKET/PREFIX (unset: $PODPERF_UPLOAD; AWS_* env)",
    )
    .option("--no-summary", "Do not print the summary at the end (keeps no per-process totals)")
    .option("--listen <addr>", "Serve /healthz, /readyz and /metrics on HOST:PORT (e.g. :9102)")
    .option("--stats-interval <time>", "Log a one-line stats record this often (0 = never)", {
      default: "60s",
    })
    .option("--json", "Print the summary as JSON")
    .example("podperf collect --duration 10s --output /var/lib/podperf")
    .action((o) => runCollect(o));
  cli.command(
    "summary [...inputs]",
    "Summarize Parquet files, directories, globs or s3://BUCKET/PREFIX per pod, container, …",
  )
    .option("--by <key>", "Group by pod, container, process, cgroup or node", { default: "pod" })
    .option("--from <time>", "Window start, wall clock (ISO 8601)")
    .option("--to <time>", "Window end, wall clock (ISO 8601)")
    .option(
      "--cpus <n>",
      "CPUs for the node share (default: the files' podperf.cpus, summed over nodes)",
    )
    .option("--top <n>", "Rows shown (0 = all)", { default: 0 })
    .option("--json", "Print JSON")
    .option("--every <time>", "Per-group time series in buckets of this length (e.g. 1s)")
    .example("podperf summary --by container out/*.parquet")
    .example("podperf summary --every 1s out/*.parquet")
    .action((files: string[], o) => runSummaryCommand(files, o));
  cli.command("report [...inputs]", "Write a self-contained HTML report naming victims/suspects")
    .option("-o, --output <file>", "The HTML file", { default: "report.html" })
    .option("--every <time>", "Bucket length of the series and the correlation", {
      default: "1s",
    })
    .option("--title <text>", "Page title (default: the node names)")
    .example("podperf report out/ -o report.html")
    .action((inputs: string[], o) =>
      runReport(inputs, {
        output: String(o.output ?? "report.html"),
        everyNs: parseDurationNs("every", String(o.every ?? "1s")),
        title: o.title === undefined ? undefined : String(o.title),
      })
    );
  cli.command("pods", "Show which pod, container or service podperf names each cgroup, and how")
    .option("--nri-socket <path>", "The runtime's NRI socket", { default: DEFAULT_NRI_SOCKET })
    .option("--timeout <time>", "How long to wait for the runtime", { default: "10s" })
    .option("--no-nri", "Do not ask the runtime over NRI (fallbacks only)")
    .option("--no-fallbacks", "Do not name pods from OCI bundles or cgroup paths")
    .option("--containerd-state <dir>", "containerd state dir for the OCI fallback", {
      default: "/run/containerd",
    })
    .option("--watch", "Keep running and print each change (ADDED, MODIFIED, DELETED)")
    .option("--json", "Print JSON (with --watch: one object per change)")
    .example("podperf pods --watch")
    .action((o) => runPods(o));
  cli.option("--log-level <level>", "debug, info, warn or error", { default: "info" });
  cli.help();
  cli.version(VERSION);
  tidyHelp(cli);
  return cli;
}

/** Runs the CLI with `args`; returns the process exit code. */
export async function run(args: string[]): Promise<number> {
  const cli = buildCli();
  try {
    cli.parse(["podperf", "podperf", ...keepNegativeValues(args)], { run: false });
    setLogLevel(parseLogLevel(cli.options.logLevel ?? "info"));
    if (cli.options.help || cli.options.version) return 0;
    if (!cli.matchedCommand) {
      if (cli.args.length) throw unknownCommandError(cli, String(cli.args[0]));
      cli.outputHelp();
      return 0;
    }
    const code = await cli.runMatchedCommand();
    return typeof code === "number" ? code : 0;
  } catch (e) {
    const err = e as Error;
    // One line a user can act on; the stack only at debug level.
    const message = err.name === "CACError" ? withOptionHint(cli, err.message) : err.message;
    console.error(`podperf: error: ${message}`);
    log.debug("error detail", { name: err.name, stack: err.stack });
    return err instanceof UsageError || err.name === "CACError" ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
