/** Aligned plain-text tables, and the column sets of the summary tables. */
import type { SummaryBy, SummaryRow } from "./summary.ts";

/** One column: a header and how to get a row's cell. */
export interface Column<T> {
  header: string;
  /** the cell; null and undefined print as "-" */
  value: (row: T) => string | number | bigint | null | undefined;
  /** digits after the point for numbers (default: integers as they are, others 2) */
  digits?: number;
  /** default: right for numbers and bigints, left otherwise */
  align?: "left" | "right";
}

const NULL_CELL = "-";

function cellText<T>(col: Column<T>, row: T): { text: string; numeric: boolean } {
  const v = col.value(row);
  if (v === null || v === undefined) return { text: NULL_CELL, numeric: false };
  if (typeof v === "bigint") return { text: v.toString(), numeric: true };
  if (typeof v === "number") {
    const digits = col.digits ?? (Number.isInteger(v) ? 0 : 2);
    return { text: v.toFixed(digits), numeric: true };
  }
  return { text: v, numeric: false };
}

/**
 * Formats rows as a plain-text table: a header line, then one line per row, columns separated
 * by two spaces, numbers right-aligned, no trailing spaces.
 *
 * @example
 * formatTable([{ n: "a", v: 1.5 }], [
 *   { header: "NAME", value: (r) => r.n },
 *   { header: "VALUE", value: (r) => r.v, digits: 1 },
 * ]);
 * // "NAME  VALUE\na       1.5\n"
 */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cellText(c, r)));
  const widths = columns.map((c, i) =>
    cells.reduce((w, row) => Math.max(w, [...row[i].text].length), [...c.header].length)
  );
  const right = columns.map((c, i) =>
    c.align !== undefined ? c.align === "right" : cells.some((row) => row[i].numeric)
  );
  const line = (texts: string[]) =>
    texts.map((t, i) => right[i] ? pad(t, widths[i], true) : pad(t, widths[i], false))
      .join("  ").trimEnd() + "\n";
  return line(columns.map((c) => c.header)) +
    cells.map((row) => line(row.map((c) => c.text))).join("");
}

function pad(text: string, width: number, left: boolean): string {
  const fill = " ".repeat(width - [...text].length);
  return left ? fill + text : text + fill;
}

const POD: Column<SummaryRow>[] = [
  { header: "NAMESPACE", value: (r) => r.podNamespace },
  {
    header: "POD",
    // outside pods, a host service's unit (kept in container_name) names the group
    value: (r) =>
      r.podName ??
        (r.podUid !== null
          ? `(uid ${r.podUid})`
          : r.containerId === null && r.containerName !== null
          ? r.containerName
          : "(no pod)"),
  },
];
const CONTAINER: Column<SummaryRow> = { header: "CONTAINER", value: (r) => r.containerName };
/** The counters (Parquet column names) a summary table column needs. */
type Needs = readonly string[];
const METRICS: (Column<SummaryRow> & { needs: Needs })[] = [
  { header: "CPU_S", value: (r) => r.cpuSeconds, digits: 3, needs: [] },
  {
    header: "NODE_%",
    value: (r) => r.nodeShare === null ? null : r.nodeShare * 100,
    digits: 2,
    needs: [],
  },
  { header: "CYCLES", value: (r) => r.cycles, needs: ["cycles"] },
  { header: "INSTRUCTIONS", value: (r) => r.instructions, needs: ["instructions"] },
  { header: "IPC", value: (r) => r.ipc, digits: 2, needs: ["cycles", "instructions"] },
  {
    header: "LLC_MPKI",
    value: (r) => r.llcMpki,
    digits: 2,
    needs: ["llc_misses", "instructions"],
  },
];

/** Options of summaryColumns. */
export interface SummaryColumnsOptions {
  /** counters (Parquet column names) unavailable in every input: their columns are left out */
  unavailable?: ReadonlySet<string>;
}

/**
 * The columns of a summary table grouped by `by`, without those whose counters are
 * unavailable.
 */
export function summaryColumns(
  by: SummaryBy,
  opts: SummaryColumnsOptions = {},
): Column<SummaryRow>[] {
  const metrics: Column<SummaryRow>[] = METRICS
    .filter((c) => !c.needs.some((n) => opts.unavailable?.has(n)))
    .map(({ needs: _, ...c }) => c);
  switch (by) {
    case "pod":
      return [...POD, ...metrics];
    case "container":
      return [...POD, CONTAINER, ...metrics];
    case "process":
      return [
        { header: "PID", value: (r) => r.tgid },
        { header: "COMM", value: (r) => r.comm },
        ...POD,
        CONTAINER,
        ...metrics,
      ];
    case "cgroup":
      return [
        { header: "CGROUP_ID", value: (r) => r.cgroupId },
        { header: "CGROUP", value: (r) => r.cgroupPath },
        ...POD,
        CONTAINER,
        ...metrics,
      ];
    case "node":
      return [{ header: "NODE", value: (r) => r.node }, ...metrics];
  }
}

/** Header names of the columns summaryColumns() leaves out for these unavailable counters. */
export function droppedColumns(unavailable: ReadonlySet<string>): string[] {
  return METRICS.filter((c) => c.needs.some((n) => unavailable.has(n))).map((c) => c.header);
}
