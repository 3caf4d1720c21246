/** The summary `collect` prints when it stops: the run's files, then its processes or pods. */
import type { CollectResult } from "../collect/collector.ts";
import { type SummaryBy, summaryReport } from "../report/mod.ts";
import { measureMonoToWallOffsetNs } from "../sampler/mod.ts";
import { localCgroupPaths } from "./cgroup_paths.ts";
import { printSummary } from "./summary_output.ts";

/** Prints the end-of-run summary of `r` grouped by `by` (JSON: one document). */
export async function printCollectSummary(
  r: CollectResult,
  by: SummaryBy,
  json: boolean,
  top: number,
): Promise<void> {
  const paths = r.window && (by === "cgroup" || by === "process")
    ? await localCgroupPaths()
    : undefined;
  const report = summaryReport(r.totals, {
    by,
    from: r.window?.from,
    to: r.window ? r.window.to + r.intervalNs : undefined,
    intervalNs: r.intervalNs,
    cpus: r.cpus,
    cgroupPath: paths,
  });
  // Totals carry one monotonic time per run: the window is shown in wall-clock time.
  const offset = measureMonoToWallOffsetNs();
  const window = r.window
    ? { from: r.window.from + offset, to: r.window.to + r.intervalNs + offset }
    : null;
  const cov = report.coverage;
  const files = r.files.map((f) => ({ path: f.path, rows: f.rows, bytes: f.bytes }));
  if (!json) {
    const total = cov.knownCpuNs + cov.unknownCpuNs;
    const share = total > 0 ? (100 * cov.knownCpuNs / total).toFixed(1) : "0.0";
    const cycles = cov.knownCycles + cov.unknownCycles;
    console.log(
      `${r.records} records, ${r.rowsWritten} rows in ${r.files.length} file(s), ` +
        `${r.lostRecords} lost records; ${share}% of CPU time attributed to a pod` +
        (cycles > 0 ? ` (${(100 * cov.knownCycles / cycles).toFixed(1)}% of cycles)` : ""),
    );
    for (const f of files) console.log(`  ${f.path} (${f.rows} rows, ${f.bytes} bytes)`);
    console.log(`counters: ${r.counters.map((c) => `${c.name}: ${c.source}`).join(", ")}`);
    if (!window) {
      console.log("no samples were collected");
      return;
    }
  }
  // totals are merged per process and cgroup: the run's own row count is the joined rows
  const coverage = { ...cov, rows: r.rowsWritten + r.rowsLost };
  printSummary({ ...report, window, coverage }, {
    by,
    json,
    top,
    cpus: r.cpus,
    counters: r.counters,
    extraJson: {
      files,
      records: r.records,
      rows_written: r.rowsWritten,
      rows_lost: r.rowsLost,
      lost_records: r.lostRecords,
    },
  });
}
