/**
 * Printing a summary the same way for `collect` and `summary`: a note for counters that no input
 * could measure (and their columns left out), the table or the one JSON document.
 */
import type { CounterInfo } from "../output/mod.ts";
import {
  droppedColumns,
  formatTable,
  type SummaryBy,
  summaryColumns,
  summaryJson,
  type SummaryReport,
} from "../report/mod.ts";

/** Counters a summary table has columns for. */
const TABLE_COUNTERS = ["cycles", "instructions", "llc_misses"];

/**
 * Merges the counter sources of several inputs (files or a run): a counter is `unavailable`
 * only when every input says so; inputs that disagree otherwise make it `mixed`.
 */
export function mergeCounterSources(lists: readonly (readonly CounterInfo[])[]): CounterInfo[] {
  const out = new Map<string, CounterInfo>();
  for (const list of lists) {
    for (const c of list) {
      const seen = out.get(c.name);
      if (seen === undefined) out.set(c.name, { ...c });
      else if (seen.source !== c.source) {
        out.set(c.name, { name: c.name, source: "mixed" as CounterInfo["source"] });
      }
    }
  }
  return [...out.values()];
}

/** The table counters unavailable in every input, and why (the first reason given). */
export function unavailableCounters(
  counters: readonly CounterInfo[],
): { names: Set<string>; reason: string | null } {
  const gone = counters.filter((c) =>
    TABLE_COUNTERS.includes(c.name) && c.source === "unavailable"
  );
  return {
    names: new Set(gone.map((c) => c.name)),
    reason: gone.find((c) => c.detail)?.detail ?? null,
  };
}

/** What printSummary needs. */
export interface PrintSummaryOptions {
  by: SummaryBy;
  json: boolean;
  /** groups shown in the table (0 = all); JSON always has all */
  top: number;
  cpus: number | null;
  counters: readonly CounterInfo[];
  /** command-specific top-level JSON keys */
  extraJson?: Record<string, unknown>;
  /** where lines go (default stdout) */
  write?: (text: string) => void;
}

/**
 * Prints a summary whose window is in wall-clock ns: JSON as one document, or a note line for
 * unavailable counters followed by the table (its columns for them left out).
 */
export function printSummary(report: SummaryReport, o: PrintSummaryOptions): void {
  const write = o.write ?? ((t: string) => console.log(t));
  if (o.json) {
    write(
      summaryJson({
        by: o.by,
        window: report.window,
        cpus: o.cpus,
        counters: o.counters,
        coverage: report.coverage,
        groups: report.groups,
      }, o.extraJson).trimEnd(),
    );
    return;
  }
  const gone = unavailableCounters(o.counters);
  if (gone.names.size > 0) {
    write(
      `${[...gone.names].join(", ")} unavailable on this node` +
        (gone.reason ? ` (${gone.reason})` : "") +
        `: ${droppedColumns(gone.names).join(", ")} not shown`,
    );
  }
  const rows = report.groups;
  const shown = o.top > 0 ? rows.slice(0, o.top) : rows;
  write(formatTable(shown, summaryColumns(o.by, { unavailable: gone.names })).trimEnd());
  if (shown.length < rows.length) {
    write(`… ${rows.length - shown.length} more (--top 0 shows all)`);
  }
}
