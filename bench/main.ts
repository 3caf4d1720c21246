/**
 * `deno task bench`: every podperf benchmark in one run, printed as tables with the machine,
 * kernel, Deno version and date, so figures from one run can be compared side by side.
 * `--quick` shortens the overhead runs; `--only a,b` picks sections; `--soak=N` sets the soak's
 * length in seconds (default 600).
 */
import { benchAggregate } from "./aggregate_bench.ts";
import { benchMetrics } from "./metrics_bench.ts";
import { benchNri } from "./nri_bench.ts";
import {
  benchGrowth,
  benchMemory,
  benchOverhead,
  benchSaturation,
  benchStages,
} from "./overhead_bench.ts";
import { benchParquet } from "./parquet_bench.ts";
import { benchPipeline, benchWriterLoop } from "./pipeline_bench.ts";
import { benchBpfPerEvent, benchSampler, PER_EVENT_LOADS } from "./sampler_bench.ts";
import { benchSoak } from "./soak_bench.ts";
import { benchStartup } from "./startup_bench.ts";
import { benchReport } from "./report_bench.ts";
import { benchRowCost } from "./row_cost_bench.ts";
import { benchS3Client, benchSummaryRead, benchUploader } from "./upload_bench.ts";
import { benchWake } from "./wake_bench.ts";

const args = new Set(Deno.args);
const quick = args.has("--quick");
const onlyArg = Deno.args.find((a) => a.startsWith("--only="))?.slice(7);
const only = onlyArg ? new Set(onlyArg.split(",")) : null;
// Soak length in seconds: --soak=N (default 600, 60 with --quick).
const soakArg = Deno.args.find((a) => a.startsWith("--soak="))?.slice(7);
const soakS = soakArg ? Number(soakArg) : quick ? 60 : 600;

function text(cmd: string, ...a: string[]): string {
  try {
    const out = new Deno.Command(cmd, { args: a, stderr: "null" }).outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "?";
  }
}

const cpuModel = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1];
console.log("# podperf benchmarks");
console.log(`date: ${new Date().toISOString()}`);
console.log(
  `machine: ${cpuModel ?? "?"}, ${navigator.hardwareConcurrency} CPUs, ` +
    `${Math.round(Deno.systemMemoryInfo().total / 2 ** 30)} GiB`,
);
console.log(
  `kernel: ${text("uname", "-r")}; deno ${Deno.version.deno}; ` +
    `command: deno task bench ${Deno.args.join(" ")}`.trim(),
);

const sections: [string, string, () => Promise<Record<string, unknown>[]>][] = [
  ["aggregate", "Aggregator alone, generated records (records/s on one core)", benchAggregate],
  [
    "pipeline",
    "Userspace path end to end, kernel bypassed: records → slots → join → Parquet",
    benchPipeline,
  ],
  [
    "writer-loop",
    "Parquet writer inline on the loop vs in its Worker: loop lag, NRI-bound CreateContainer",
    () => benchWriterLoop(quick ? { seconds: 4, rounds: 1 } : {}),
  ],
  [
    "metrics",
    "Per-pod Prometheus series: append cost per row, one scrape's cost",
    () => Promise.resolve(benchMetrics()),
  ],
  ["sampler", "Real BPF sampler: drain ceiling, BPF cost per program, lost records", benchSampler],
  [
    "per-event",
    "BPF cost per switch and per tick by load, next to an empty program's floor on the same hooks",
    () => benchBpfPerEvent(PER_EVENT_LOADS, quick ? 3 : 5),
  ],
  ["parquet", "Parquet writers on the podperf schema (same rows, same run)", () => benchParquet()],
  [
    "nri",
    "NRI: Synchronize of 500 containers, store memory, StartContainer → resolvable",
    benchNri,
  ],
  [
    "wake",
    "The machine's wake-up penalty: the same work warm and after sleeping (median ms of 5)",
    benchWake,
  ],
  [
    "row-cost",
    "Aggregation, join and packing per row, back to back and after a drain's sleep (µs/row)",
    () => benchRowCost(quick),
  ],
  [
    "overhead",
    "Overhead at 1 ms vs perf stat / perf record (CPU % of one CPU; median of runs, spread)",
    () => benchOverhead(quick ? { reps: 1, windowS: 8 } : {}),
  ],
  [
    "stages",
    "Collector CPU by step of the path, side by side under one sched-pipe pair (% of one CPU)",
    () => benchStages(quick ? { windowS: 15, rounds: 2 } : {}),
  ],
  [
    "startup",
    "Collector CPU from launch, per 10 s, under one sched-pipe pair: agent's V8 flags vs memory reducer on",
    () => benchStartup(quick ? { steps: 6, rounds: 1 } : {}),
  ],
  [
    "growth",
    "podperf cost vs busy processes and sampling interval",
    () => benchGrowth(quick ? { reps: 1, windowS: 4 } : {}),
  ],
  [
    "saturation",
    "podperf on a saturated node: 2–64 runnable ping-pong tasks (lost, rows/s, bytes/row, RSS)",
    () => benchSaturation(quick ? { windowS: 4 } : {}),
  ],
  [
    "memory",
    "Collector RSS after a long collection",
    () => benchMemory(quick ? { seconds: 15 } : {}),
  ],
  [
    "soak",
    `Agent soak (${soakS} s): fork churn + a pod per second; RSS, bounded structures, drain p99`,
    () => benchSoak({ seconds: soakS, everyS: Math.min(10, soakS) }),
  ],
  [
    "report",
    "podperf report on demo nodes: rows/s into the series, HTML size, chromium render",
    () => benchReport({ quick }),
  ],
  [
    "s3client",
    "S3 client choice: SigV4 over fetch vs AWS SDK (fresh process each)",
    () => benchS3Client(quick ? 1 : 3),
  ],
  ["upload", "Uploader to s3rver: throughput and CPU per GiB", () => benchUploader()],
  [
    "summary-read",
    "summary rows/s and peak RSS vs input size, next to DuckDB",
    () => benchSummaryRead(quick),
  ],
];

for (const [name, title, run] of sections) {
  if (only && !only.has(name)) continue;
  console.log(`\n## ${name}: ${title}`);
  const t0 = performance.now();
  try {
    console.table(await run());
  } catch (e) {
    console.log(`(failed: ${(e as Error).message})`);
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
