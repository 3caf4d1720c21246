/**
 * `podperf report FILES|DIR [-o report.html]` and `podperf summary --every`: both read rows
 * through scanPodperfFiles into bucketed series, never holding the rows themselves.
 */
import { join } from "node:path";
import { UsageError } from "./units.ts";
import { bigintReplacer } from "../report/json.ts";
import { type Column, formatTable } from "../report/table.ts";
import { scanPodperfFiles } from "../report/row_scan.ts";
import { findSuspects, type SuspectReport } from "../report/suspects.ts";
import {
  type EveryRow,
  everyRows,
  SeriesBuilder,
  type SeriesBy,
  type TimeSeries,
} from "../report/timeseries.ts";
import { renderReportHtml } from "../report/html/mod.ts";

/** The input could not be turned into a list of Parquet files. */
export class ReportInputError extends Error {
  override name = "ReportInputError";
  constructor(readonly input: string, message: string) {
    super(message);
  }
}

/**
 * Files as given, directories as their complete `*.parquet` files (sorted; temporary and
 * hidden files skipped). Stands in for lib/report/inputs.ts (globs, s3://) until it lands.
 */
export async function resolveReportInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(input);
    } catch (err) {
      throw new ReportInputError(input, `cannot read ${input}: ${(err as Error).message}`);
    }
    if (!info.isDirectory) {
      out.push(input);
      continue;
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(input)) {
      if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) names.push(e.name);
    }
    if (names.length === 0) throw new ReportInputError(input, `no *.parquet files in ${input}`);
    out.push(...names.sort().map((n) => join(input, n)));
  }
  return out;
}

/** Reads files into a per-pod (container, process) series; rows outside [from, to) are skipped. */
export async function buildSeries(
  paths: readonly string[],
  opts: { by: SeriesBy; everyNs: bigint; fromWallNs?: bigint; toWallNs?: bigint },
): Promise<TimeSeries> {
  const b = new SeriesBuilder({ by: opts.by, everyNs: opts.everyNs });
  const { fromWallNs: from, toWallNs: to } = opts;
  const files = await scanPodperfFiles(paths, (row, file) => {
    if (from !== undefined || to !== undefined) {
      const wall = row.monoNs + file.wallOffsetNs;
      if ((from !== undefined && wall < from) || (to !== undefined && wall >= to)) return;
    }
    b.add(row, file);
  });
  return b.finish(files);
}

/** Checks a `--every` bucket length. */
export function checkEvery(everyNs: bigint): bigint {
  if (everyNs < 1_000_000n) throw new UsageError("every", "--every must be at least 1ms");
  return everyNs;
}

const ID_COLUMNS: Record<SeriesBy, Column<EveryRow>[]> = {
  pod: [
    { header: "NAMESPACE", value: (r) => r.podNamespace },
    { header: "POD", value: (r) => r.podName ?? (r.podUid === null ? "(no pod)" : r.podUid) },
  ],
  container: [
    { header: "NAMESPACE", value: (r) => r.podNamespace },
    { header: "POD", value: (r) => r.podName ?? (r.podUid === null ? "(no pod)" : r.podUid) },
    { header: "CONTAINER", value: (r) => r.containerName },
  ],
  process: [
    { header: "PID", value: (r) => r.tgid },
    { header: "COMM", value: (r) => r.comm },
    { header: "POD", value: (r) => r.podName },
  ],
};

/** The columns of `summary --every` text output. */
export function everyColumns(by: SeriesBy): Column<EveryRow>[] {
  return [
    { header: "TIME", value: (r) => r.time },
    ...ID_COLUMNS[by],
    { header: "CPU_S", value: (r) => r.cpuNs / 1e9, digits: 3 },
    { header: "CPU%", value: (r) => r.cpuShare === null ? null : 100 * r.cpuShare, digits: 1 },
    { header: "RUNQ_MS/CPU_S", value: (r) => r.runqMsPerCpuS, digits: 1 },
    { header: "CSW", value: (r) => r.contextSwitches },
    { header: "IPC", value: (r) => r.ipc },
    { header: "LLC_MPKI", value: (r) => r.llcMpki },
  ];
}

/** Options of `summary --every`. */
export interface SummaryEveryOptions {
  by: string;
  everyNs: bigint;
  json: boolean;
  fromWallNs?: bigint;
  toWallNs?: bigint;
  /** overrides the files' `podperf.cpus` */
  cpus?: number;
}

/** `summary --every`: prints per-group buckets; returns the exit code. */
export async function runSummaryEvery(files: string[], o: SummaryEveryOptions): Promise<number> {
  if (!["pod", "container", "process"].includes(o.by)) {
    throw new UsageError("by", `--every works --by pod, container or process, not "${o.by}"`);
  }
  const by = o.by as SeriesBy;
  checkEvery(o.everyNs);
  const series = await buildSeries(await resolveReportInputs(files), {
    by,
    everyNs: checkEvery(o.everyNs),
    fromWallNs: o.fromWallNs,
    toWallNs: o.toWallNs,
  });
  if (o.cpus !== undefined) series.cpus = o.cpus;
  const rows = everyRows(series);
  if (o.json) {
    // The CLI's one JSON convention (README "JSON output"): one snake_case document, the window
    // and what the files hold on top, the buckets below.
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const buckets = rows.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [snake(k), v]))
    );
    console.log(JSON.stringify(
      {
        by,
        every_ns: o.everyNs,
        // ISO strings: ns since the epoch do not fit a JSON number exactly
        window: {
          from: new Date(series.windowStartNs / 1e6).toISOString(),
          to: new Date(series.windowEndNs / 1e6).toISOString(),
        },
        cpus: series.cpus,
        has_runq_delay: series.hasRunq,
        buckets,
      },
      bigintReplacer,
      2,
    ));
  } else {
    if (!series.hasRunq) console.log("# run-queue delay: not in these files (no runq_delay_ns)");
    console.log(formatTable(rows, everyColumns(by)).trimEnd());
  }
  return 0;
}

/** Options of `podperf report`. */
export interface ReportOptions {
  output: string;
  everyNs: bigint;
  title?: string;
  maxPods?: number;
}

/** What `podperf report` produced. */
export interface ReportResult {
  path: string;
  bytes: number;
  series: TimeSeries;
  suspects: SuspectReport;
}

/** Reads the inputs, finds victims and suspects and writes the HTML page. */
export async function writeReport(inputs: readonly string[], o: ReportOptions) {
  const paths = await resolveReportInputs(inputs);
  const series = await buildSeries(paths, { by: "pod", everyNs: checkEvery(o.everyNs) });
  const suspects = findSuspects(series);
  const html = renderReportHtml(series, suspects, { title: o.title, maxPods: o.maxPods });
  const bytes = new TextEncoder().encode(html);
  const tmp = `${o.output}.tmp`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, o.output);
  return { path: o.output, bytes: bytes.length, series, suspects };
}

/** `podperf report`: writes the page and prints one line per finding; returns the exit code. */
export async function runReport(inputs: string[], o: ReportOptions): Promise<number> {
  if (inputs.length === 0) {
    throw new UsageError("FILE", "report: give Parquet files or a directory of them");
  }
  checkEvery(o.everyNs); // a bad flag is a usage error before any input is read
  const r = await writeReport(inputs, o);
  console.log(
    `${r.path}: ${r.bytes} bytes, ${r.series.groups.length} pods, ${r.series.bucketCount} buckets`,
  );
  for (const f of r.suspects.findings) {
    const who = f.suspects.map((x) => `${x.label} (r=${x.r.toFixed(2)})`).join(", ") || "none";
    console.log(`victim ${f.victim} (${f.kind}): suspects ${who}`);
  }
  for (const n of r.suspects.notes) console.log(`note: ${n}`);
  return 0;
}
