/** Summaries of output rows per pod, container, process or cgroup over a time window. */
import type { OutputRow } from "../output/schema.ts";
import { isHostUnitMeta } from "../metadata/host_unit.ts";

/** What a summary groups by. */
export type SummaryBy = "pod" | "container" | "process" | "cgroup" | "node";

/** The fields of an OutputRow a summary reads. */
export type SummaryInput =
  & Pick<
    OutputRow,
    | "monoNs"
    | "tgid"
    | "comm"
    | "cgroupId"
    | "cpuNs"
    | "cycles"
    | "instructions"
    | "llcMisses"
    | "podName"
    | "podNamespace"
    | "podUid"
    | "containerName"
    | "containerId"
  >
  & {
    /** node that wrote the row (multi-node input); process and cgroup ids are per node */
    node?: string | null;
    /** input rows this one stands for when rows were merged while streaming (default 1) */
    rows?: number;
  };

/** Options of summarize(). */
export interface SummaryOptions {
  by: SummaryBy;
  /** window start, CLOCK_MONOTONIC ns: rows with monoNs ≥ from (default: the first row) */
  from?: bigint;
  /** window end, exclusive: rows with monoNs < to (default: the last row's slot end) */
  to?: bigint;
  /** slot length; closes the default window after the last slot (default 1 ms) */
  intervalNs?: number | bigint;
  /** CPUs of the node; without it the share of node CPU is null */
  cpus?: number;
  /** cgroup id → path on this node (by cgroup and by process); unknown ids keep a null path */
  cgroupPath?: (cgroupId: bigint) => string | undefined;
}

/**
 * One group. Key columns not part of the grouping are context: the values of the group's first
 * row that has them (for process/cgroup the pod and container they belong to), else null.
 */
export interface SummaryRow {
  /** node (by node; context otherwise when the input names nodes) */
  node: string | null;
  podNamespace: string | null;
  podName: string | null;
  podUid: string | null;
  containerName: string | null;
  containerId: string | null;
  /** process id (by process only) */
  tgid: number | null;
  /**
   * process name (by process only): the name that ran longest among the process's rows (rows
   * carry the thread-group leader's name; older files the thread's)
   */
  comm: string | null;
  /** cgroup2 inode (by cgroup and by process) */
  cgroupId: bigint | null;
  /** cgroup path relative to the cgroup2 mount, where the `cgroupPath` option knows the id */
  cgroupPath: string | null;
  cpuNs: number;
  cpuSeconds: number;
  /** cpu ns / (window ns × CPUs); null when the CPU count is not known */
  nodeShare: number | null;
  /** counter sums; null unless the counter is known in every row of the group */
  cycles: number | null;
  instructions: number | null;
  llcMisses: number | null;
  /** instructions / cycles; null when either is null or cycles is 0 */
  ipc: number | null;
  /** LLC misses per 1000 instructions; null when either is null or instructions is 0 */
  llcMpki: number | null;
  /** input rows in the group */
  rows: number;
}

/** The summary was asked for something it cannot compute. */
export class SummaryOptionsError extends Error {
  override name = "SummaryOptionsError";
  constructor(readonly option: string, readonly value: unknown, message: string) {
    super(message);
  }
}

const BY: readonly SummaryBy[] = ["pod", "container", "process", "cgroup", "node"];

function groupKey(r: SummaryInput, by: SummaryBy): string {
  switch (by) {
    case "pod":
      // rows without metadata form one "unknown" group; the uid separates recreated pods and
      // names the pod when only the cgroup path was known; a host service is its own group
      if (r.podName === null && r.podUid === null) {
        return isHostUnitMeta(r) ? `unit\0${r.containerName}` : "";
      }
      return `${r.podNamespace}\0${r.podName}\0${r.podUid}`;
    case "container":
      if (r.containerId !== null) return r.containerId;
      if (isHostUnitMeta(r)) return `unit\0${r.containerName}`;
      return r.podName === null ? "" : `pod\0${r.podUid}\0${r.containerName}`;
    case "process":
      // one line per process: threads (and, in older files, their names) fold into it
      return `${r.node ?? ""}\0${r.tgid}`;
    case "cgroup":
      return `${r.node ?? ""}\0${r.cgroupId}`;
    case "node":
      return r.node ?? "";
  }
}

function addCounter(sum: number | null, v: number | null, first: boolean): number | null {
  if (first) return v;
  return sum === null || v === null ? null : sum + v;
}

/** CPU time (and cycles where counted) of the window's rows with and without pod metadata. */
export interface SummaryCoverage {
  rows: number;
  knownCpuNs: number;
  unknownCpuNs: number;
  knownCycles: number;
  unknownCycles: number;
}

/** A summary with the window it covers and how much of it had pod metadata. */
export interface SummaryReport {
  groups: SummaryRow[];
  /** first slot start and last slot end of the rows in the window (the rows' clock); null if none */
  window: { from: bigint; to: bigint } | null;
  coverage: SummaryCoverage;
}

/**
 * Groups rows by pod, container, process or cgroup inside a window and sorts the groups by
 * cpu time, largest first.
 *
 * @example
 * const pods = summarize(outputRows, { by: "pod", cpus: 8 });
 * console.log(formatTable(pods, summaryColumns("pod")));
 */
export function summarize(rows: Iterable<SummaryInput>, opts: SummaryOptions): SummaryRow[] {
  return summaryReport(rows, opts).groups;
}

/** As summarize(), plus the window the rows span and the pod-metadata coverage. */
export function summaryReport(rows: Iterable<SummaryInput>, opts: SummaryOptions): SummaryReport {
  if (!BY.includes(opts.by)) {
    throw new SummaryOptionsError("by", opts.by, `cannot group by "${opts.by}" (use ${BY})`);
  }
  if (opts.cpus !== undefined && !(Number.isInteger(opts.cpus) && opts.cpus > 0)) {
    throw new SummaryOptionsError("cpus", opts.cpus, `cpus must be ≥ 1, got ${opts.cpus}`);
  }
  if (opts.from !== undefined && opts.to !== undefined && opts.to <= opts.from) {
    throw new SummaryOptionsError("to", opts.to, `window end ${opts.to} is not after ${opts.from}`);
  }
  const interval = BigInt(opts.intervalNs ?? 1_000_000);
  const groups = new Map<string, SummaryRow>();
  // by process: cpu time per name, to show the name that ran longest
  const names = new Map<SummaryRow, Map<string, number>>();
  const coverage: SummaryCoverage = {
    rows: 0,
    knownCpuNs: 0,
    unknownCpuNs: 0,
    knownCycles: 0,
    unknownCycles: 0,
  };
  let first: bigint | null = null;
  let last: bigint | null = null;
  for (const r of rows) {
    if (opts.from !== undefined && r.monoNs < opts.from) continue;
    if (opts.to !== undefined && r.monoNs >= opts.to) continue;
    if (first === null || r.monoNs < first) first = r.monoNs;
    if (last === null || r.monoNs > last) last = r.monoNs;
    coverage.rows += r.rows ?? 1;
    if (hasPodMeta(r)) {
      coverage.knownCpuNs += r.cpuNs;
      coverage.knownCycles += r.cycles ?? 0;
    } else {
      coverage.unknownCpuNs += r.cpuNs;
      coverage.unknownCycles += r.cycles ?? 0;
    }
    const key = groupKey(r, opts.by);
    let g = groups.get(key);
    const isNew = g === undefined;
    if (g === undefined) {
      g = emptyGroup(r, opts.by);
      groups.set(key, g);
    } else if (opts.by !== "pod" && opts.by !== "node" && !hasAnyMeta(g) && hasAnyMeta(r)) {
      // metadata can arrive after a group's first rows (a cgroup seen before its walk or NRI)
      fillContext(g, r);
    }
    if (opts.by === "process") {
      let byName = names.get(g);
      if (byName === undefined) names.set(g, byName = new Map());
      byName.set(r.comm, (byName.get(r.comm) ?? 0) + r.cpuNs);
    }
    g.cpuNs += r.cpuNs;
    g.cycles = addCounter(g.cycles, r.cycles, isNew);
    g.instructions = addCounter(g.instructions, r.instructions, isNew);
    g.llcMisses = addCounter(g.llcMisses, r.llcMisses, isNew);
    g.rows += r.rows ?? 1;
  }
  const from = opts.from ?? first;
  const to = opts.to ?? (last === null ? null : last + interval);
  const windowNs = from === null || to === null ? 0 : Number(to - from);
  const capacity = opts.cpus === undefined ? 0 : windowNs * opts.cpus;
  const out = [...groups.values()];
  for (const g of out) {
    g.cpuSeconds = g.cpuNs / 1e9;
    g.nodeShare = capacity > 0 ? g.cpuNs / capacity : null;
    g.ipc = g.cycles === null || g.instructions === null || g.cycles === 0
      ? null
      : g.instructions / g.cycles;
    g.llcMpki = g.llcMisses === null || g.instructions === null || g.instructions === 0
      ? null
      : g.llcMisses * 1000 / g.instructions;
    const byName = names.get(g);
    if (byName !== undefined) {
      let most = -1;
      for (const [name, ns] of byName) if (ns > most) [g.comm, most] = [name, ns];
    }
    if (g.cgroupId !== null) g.cgroupPath = opts.cgroupPath?.(g.cgroupId) ?? null;
  }
  out.sort((a, b) => b.cpuNs - a.cpuNs || compareKeys(a, b));
  const window = first === null || last === null ? null : { from: first, to: last + interval };
  return { groups: out, window, coverage };
}

function hasAnyMeta(r: Pick<SummaryInput, "podName" | "podUid" | "containerId" | "containerName">) {
  return hasPodMeta(r) || r.containerName !== null;
}

/** The row names a pod or a pod's container (any source), as opposed to a host service or nothing. */
export function hasPodMeta(r: Pick<SummaryInput, "podName" | "podUid" | "containerId">): boolean {
  return r.podName !== null || r.podUid !== null || r.containerId !== null;
}

function emptyGroup(r: SummaryInput, by: SummaryBy): SummaryRow {
  const g: SummaryRow = {
    node: r.node ?? null,
    podNamespace: null,
    podName: null,
    podUid: null,
    containerName: null,
    containerId: null,
    tgid: by === "process" ? r.tgid : null,
    comm: by === "process" ? r.comm : null,
    cgroupId: by === "process" || by === "cgroup" ? r.cgroupId : null,
    cgroupPath: null,
    cpuNs: 0,
    cpuSeconds: 0,
    nodeShare: null,
    cycles: null,
    instructions: null,
    llcMisses: null,
    ipc: null,
    llcMpki: null,
    rows: 0,
  };
  if (by !== "node") fillContext(g, r);
  // a host service's name is its container_name: keep it, it is what the group is
  if (by === "pod" && !isHostUnitMeta(r)) g.containerName = g.containerId = null;
  return g;
}

function fillContext(g: SummaryRow, r: SummaryInput): void {
  g.podNamespace = r.podNamespace;
  g.podName = r.podName;
  g.podUid = r.podUid;
  g.containerName = r.containerName;
  g.containerId = r.containerId;
}

// a total order on the key columns so equal cpu times print in a stable order
function compareKeys(a: SummaryRow, b: SummaryRow): number {
  const fields = [
    "node",
    "podNamespace",
    "podName",
    "podUid",
    "containerName",
    "containerId",
    "comm",
  ] as const;
  for (const f of fields) {
    const x = a[f] ?? "", y = b[f] ?? "";
    if (x !== y) return x < y ? -1 : 1;
  }
  const t = (a.tgid ?? -1) - (b.tgid ?? -1);
  if (t !== 0) return t;
  const ca = a.cgroupId ?? -1n, cb = b.cgroupId ?? -1n;
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}
