/**
 * The podperf command line: `collect`, `summary`, `pods`.
 * Errors the user can act on are printed as one line and a non-zero exit code.
 */
import cac from "cac";
import { collect, type CollectResult } from "./lib/collect/collector.ts";
import { parseBytes, parseDurationNs, UsageError } from "./lib/cli/units.ts";
import { log, setLogLevel } from "./lib/log.ts";
import { DEFAULT_NRI_SOCKET, runPodsCommand } from "./lib/nri/mod.ts";
import {
  formatJson,
  formatTable,
  readPodperfFile,
  summarize,
  type SummaryBy,
  summaryColumns,
  type SummaryRow,
} from "./lib/report/mod.ts";
import type { OutputRow } from "./lib/output/mod.ts";
import { COUNTER_NAMES } from "./lib/sampler/mod.ts";
import { VERSION } from "./lib/version.ts";

const BY: readonly SummaryBy[] = ["pod", "container", "process", "cgroup"];

function parseCount(flag: string, text: unknown, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(flag, `--${flag}: "${text}" is not a whole number ≥ ${min}`);
  }
  return n;
}

function parseCounters(text: unknown): string[] | undefined {
  if (text === undefined) return undefined;
  const names = String(text).split(",").map((s) => s.trim()).filter((s) => s);
  const unknown = names.filter((n) => !(COUNTER_NAMES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new UsageError(
      "counters",
      `--counters: unknown ${unknown.join(", ")} (known: ${COUNTER_NAMES.join(", ")})`,
    );
  }
  return names;
}

function parseBy(text: string): SummaryBy {
  if (!BY.includes(text as SummaryBy)) {
    throw new UsageError("by", `--by: "${text}" is not one of ${BY.join(", ")}`);
  }
  return text as SummaryBy;
}

function printSummary(rows: SummaryRow[], by: SummaryBy, json: boolean, limit: number): void {
  if (json) {
    console.log(formatJson(rows));
    return;
  }
  const shown = limit > 0 ? rows.slice(0, limit) : rows;
  console.log(formatTable(shown, summaryColumns(by)).trimEnd());
  if (shown.length < rows.length) {
    console.log(`… ${rows.length - shown.length} more (--top 0 shows all)`);
  }
}

function printCollectSummary(r: CollectResult, by: SummaryBy, json: boolean, top: number): void {
  if (!r.window) {
    console.log("no samples were collected");
    return;
  }
  const rows = summarize(r.totals, {
    by,
    from: r.window.from,
    to: r.window.to + r.intervalNs,
    intervalNs: r.intervalNs,
    cpus: r.cpus,
  });
  const cov = r.coverage;
  const total = cov.knownCpuNs + cov.unknownCpuNs;
  if (!json) {
    const share = total > 0 ? (100 * cov.knownCpuNs / total).toFixed(1) : "0.0";
    console.log(
      `${r.records} records, ${r.rowsWritten} rows in ${r.files.length} file(s), ` +
        `${r.lostRecords} lost records; ${share}% of CPU time attributed to a pod` +
        (cov.knownCycles + cov.unknownCycles > 0
          ? ` (${
            (100 * cov.knownCycles / (cov.knownCycles + cov.unknownCycles)).toFixed(1)
          }% of cycles)`
          : ""),
    );
    for (const f of r.files) console.log(`  ${f.path} (${f.rows} rows, ${f.bytes} bytes)`);
    const sources = r.counters.map((c) => `${c.name}: ${c.source}`).join(", ");
    console.log(`counters: ${sources}`);
  }
  printSummary(rows, by, json, top);
}

async function runCollect(o: Record<string, unknown>): Promise<number> {
  const durationNs = o.duration === undefined
    ? undefined
    : parseDurationNs("duration", o.duration as string);
  const intervalNs = parseDurationNs("interval", (o.interval as string) ?? "1ms");
  if (intervalNs < 10_000n || intervalNs > 10_000_000_000n) {
    throw new UsageError("interval", "--interval must be between 10us and 10s");
  }
  const counters = parseCounters(o.counters);
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
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const result = await collect({
      outputDir: String(o.output ?? "out"),
      durationMs: durationNs === undefined ? undefined : Number(durationNs / 1_000_000n),
      intervalNs,
      counters,
      nriSocket: o.nri === false ? null : String(o.nriSocket ?? DEFAULT_NRI_SOCKET),
      nriIndex: String(o.nriIndex ?? "10"),
      node: String(o.node ?? Deno.hostname()),
      rotateBytes,
      rotateAgeMs,
      retainBytes: retainBytes > 0 ? retainBytes : undefined,
      retainAgeMs: retainAgeMs > 0 ? retainAgeMs : undefined,
      fallbacks: o.fallbacks !== false,
      containerdStateDirs: o.containerdState ? [String(o.containerdState)] : undefined,
      signal: ac.signal,
    });
    if (o.summary !== false) printCollectSummary(result, by, Boolean(o.json), top);
    return result.rowsLost > 0 ? 3 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

function parseWallTime(flag: string, text: unknown): bigint | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(String(text));
  if (Number.isNaN(ms)) {
    throw new UsageError(
      flag,
      `--${flag}: "${text}" is not a time (example: 2026-11-23T17:00:00Z)`,
    );
  }
  return BigInt(ms) * 1_000_000n;
}

async function runSummary(files: string[], o: Record<string, unknown>): Promise<number> {
  if (files.length === 0) throw new UsageError("FILE", "summary: give at least one Parquet file");
  const by = parseBy(String(o.by ?? "pod"));
  const from = parseWallTime("from", o.from);
  const to = parseWallTime("to", o.to);
  const rows: OutputRow[] = [];
  let intervalNs = 1_000_000n;
  // The share of node CPU needs the node's CPU count, which each file records.
  let fileCpus: number | undefined;
  for (const path of files) {
    const f = await readPodperfFile(path);
    const offset = BigInt(f.metadata["podperf.mono_to_wall_offset_ns"] ?? "0");
    intervalNs = BigInt(f.metadata["podperf.interval_ns"] ?? intervalNs);
    fileCpus ??= f.metadata["podperf.cpus"] ? Number(f.metadata["podperf.cpus"]) : undefined;
    for (const r of f.rows) {
      const wall = r.monoNs + offset;
      if ((from === undefined || wall >= from) && (to === undefined || wall < to)) rows.push(r);
    }
  }
  const cpus = o.cpus !== undefined ? parseCount("cpus", o.cpus, 1) : fileCpus;
  const top = parseCount("top", o.top ?? 0, 0);
  printSummary(summarize(rows, { by, intervalNs, cpus }), by, Boolean(o.json), top);
  return 0;
}

function runPods(o: Record<string, unknown>): Promise<number> {
  return runPodsCommand({
    socketPath: String(o.nriSocket ?? DEFAULT_NRI_SOCKET),
    json: Boolean(o.json),
    timeoutMs: Number(parseDurationNs("timeout", (o.timeout as string) ?? "10s") / 1_000_000n),
  });
}

/** Builds the CLI; `run` returns the exit code. */
export function buildCli(): ReturnType<typeof cac> {
  const cli = cac("podperf");
  cli.command("collect", "Sample per-process CPU counters every interval and write Parquet")
    .option("--duration <time>", "Stop after this long (e.g. 10s); default: until SIGINT/SIGTERM")
    .option("--output <dir>", "Directory for the Parquet files", { default: "out" })
    .option("--interval <time>", "Sampling interval and slot length", { default: "1ms" })
    .option(
      "--counters <list>",
      "Counters to open: cycles,instructions,llc_misses,page_faults,context_switches",
    )
    .option("--nri-socket <path>", "The runtime's NRI socket", { default: DEFAULT_NRI_SOCKET })
    .option("--nri-index <nn>", "Two-digit NRI plugin index (orders plugins in the runtime)", {
      default: "10",
    })
    .option("--no-nri", "Do not connect to the runtime over NRI")
    .option("--no-fallbacks", "Do not name pods from OCI bundles or cgroup paths")
    .option(
      "--containerd-state <dir>",
      "containerd state dir for the OCI fallback (default /run/containerd)",
    )
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
    .option("--by <key>", "Summary grouping: pod, container, process, cgroup", {
      default: "process",
    })
    .option("--top <n>", "Summary rows shown (0 = all)", { default: 20 })
    .option("--no-summary", "Do not print the summary at the end")
    .option("--json", "Print the summary as JSON")
    .example("podperf collect --duration 10s --output /var/lib/podperf")
    .action((o) => runCollect(o));
  cli.command("summary [...files]", "Summarize Parquet files per pod, container or process")
    .option("--by <key>", "Group by pod, container, process or cgroup", { default: "pod" })
    .option("--from <time>", "Window start, wall clock (ISO 8601)")
    .option("--to <time>", "Window end, wall clock (ISO 8601)")
    .option("--cpus <n>", "CPUs of the node (default: from the files' podperf.cpus)")
    .option("--top <n>", "Rows shown (0 = all)", { default: 0 })
    .option("--json", "Print JSON")
    .example("podperf summary --by container out/*.parquet")
    .action((files: string[], o) => runSummary(files, o));
  cli.command("pods", "Show the live cgroup → pod map learned from the runtime over NRI")
    .option("--nri-socket <path>", "The runtime's NRI socket", { default: DEFAULT_NRI_SOCKET })
    .option("--timeout <time>", "How long to wait for the runtime", { default: "10s" })
    .option("--json", "Print JSON")
    .action((o) => runPods(o));
  cli.option("--log-level <level>", "debug, info, warn or error", { default: "info" });
  cli.help();
  cli.version(VERSION);
  return cli;
}

/** Runs the CLI with `args`; returns the process exit code. */
export async function run(args: string[]): Promise<number> {
  const cli = buildCli();
  try {
    cli.parse(["podperf", "podperf", ...args], { run: false });
    setLogLevel(String(cli.options.logLevel ?? "info"));
    if (cli.options.help || cli.options.version) return 0;
    if (!cli.matchedCommand) {
      if (cli.args.length) {
        throw new UsageError("command", `unknown command "${cli.args[0]}" (see podperf --help)`);
      }
      cli.outputHelp();
      return 0;
    }
    const code = await cli.runMatchedCommand();
    return typeof code === "number" ? code : 0;
  } catch (e) {
    const err = e as Error;
    // One line a user can act on; the stack only at debug level.
    console.error(`podperf: error: ${err.message}`);
    log.debug("error detail", { name: err.name, stack: err.stack });
    return err instanceof UsageError || err.name === "CACError" ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
