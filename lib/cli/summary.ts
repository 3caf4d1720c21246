/** `podperf summary FILE…`: read podperf Parquet files back and summarize a window of them. */
import type { CounterInfo, OutputRow } from "../output/mod.ts";
import { isoFromNs, readPodperfFile, summaryReport } from "../report/mod.ts";
import { parseBy, parseCount, parseWallTime } from "./flags.ts";
import { runSummaryEvery } from "./report.ts";
import { localCgroupPaths } from "./cgroup_paths.ts";
import { mergeCounterSources, printSummary } from "./summary_output.ts";
import { parseDurationNs, UsageError } from "./units.ts";

/** The files hold rows, but none inside the asked window; says what the files do cover. */
export class NoRowsInWindowError extends Error {
  override name = "NoRowsInWindowError";
  /** Times are wall-clock ns; `from`/`to` null when that side was not given. */
  constructor(
    readonly from: bigint | null,
    readonly to: bigint | null,
    readonly coverFrom: bigint,
    readonly coverTo: bigint,
  ) {
    const side = from !== null && to !== null
      ? `between ${isoFromNs(from)} and ${isoFromNs(to)}`
      : from !== null
      ? `from ${isoFromNs(from)} on`
      : `before ${isoFromNs(to!)}`;
    super(
      `no rows ${side}: the files cover ${isoFromNs(coverFrom)} to ${isoFromNs(coverTo)}`,
    );
  }
}

/** Runs `summary`; resolves to the exit code. Usage errors are thrown as UsageError. */
export async function runSummaryCommand(
  files: string[],
  o: Record<string, unknown>,
): Promise<number> {
  // Flags first: `--by FILE` must be reported as a bad --by, not as a missing file.
  const by = parseBy(o.by ?? "pod");
  const from = parseWallTime("from", o.from);
  const to = parseWallTime("to", o.to);
  const top = parseCount("top", o.top ?? 0, 0);
  const cpusFlag = o.cpus !== undefined ? parseCount("cpus", o.cpus, 1) : undefined;
  if (from !== undefined && to !== undefined && to <= from) {
    throw new UsageError("to", `--to ${o.to} is not after --from ${o.from}`);
  }
  if (files.length === 0) throw new UsageError("FILE", "summary: give at least one Parquet file");
  if (o.every !== undefined) {
    return await runSummaryEvery(files, {
      by,
      everyNs: parseDurationNs("every", String(o.every)),
      json: Boolean(o.json),
      fromWallNs: from,
      toWallNs: to,
      cpus: cpusFlag,
    });
  }

  const rows: OutputRow[] = [];
  const counterLists: CounterInfo[][] = [];
  const nodes = new Set<string>();
  const read: { path: string; rows: number }[] = [];
  let intervalNs = 1_000_000n;
  let coverFrom: bigint | null = null, coverTo: bigint | null = null;
  // The share of node CPU needs the node's CPU count, which each file records.
  let fileCpus: number | undefined;
  for (const path of files) {
    const f = await readPodperfFile(path);
    const m = f.metadata;
    const offset = BigInt(m["podperf.mono_to_wall_offset_ns"] ?? "0");
    intervalNs = BigInt(m["podperf.interval_ns"] ?? intervalNs);
    fileCpus ??= m["podperf.cpus"] ? Number(m["podperf.cpus"]) : undefined;
    if (m["podperf.counters"]) counterLists.push(JSON.parse(m["podperf.counters"]));
    nodes.add(m["podperf.node"] ?? "");
    read.push({ path, rows: f.rows.length });
    for (const r of f.rows) {
      // Windows are wall clock: files of other runs and nodes have other monotonic clocks.
      const wall = r.monoNs + offset;
      if (coverFrom === null || wall < coverFrom) coverFrom = wall;
      if (coverTo === null || wall + intervalNs > coverTo) coverTo = wall + intervalNs;
      if ((from === undefined || wall >= from) && (to === undefined || wall < to)) {
        r.monoNs = wall;
        rows.push(r);
      }
    }
  }
  if (rows.length === 0 && coverFrom !== null && coverTo !== null) {
    throw new NoRowsInWindowError(from ?? null, to ?? null, coverFrom, coverTo);
  }
  const cpus = cpusFlag ?? fileCpus;
  // Paths only where the cgroup ids are this node's (files from elsewhere keep their inodes).
  const here = Deno.hostname();
  const paths = (by === "cgroup" || by === "process") && nodes.size === 1 && nodes.has(here)
    ? await localCgroupPaths()
    : undefined;
  const report = summaryReport(rows, {
    by,
    intervalNs,
    cpus,
    from,
    to,
    cgroupPath: paths,
  });
  const counters = mergeCounterSources(counterLists);
  printSummary(report, {
    by,
    json: Boolean(o.json),
    top,
    cpus: cpus ?? null,
    counters,
    extraJson: { files: read },
  });
  return 0;
}
