/**
 * `summary` over any number of files, local or in a bucket, in bounded memory: each row group's
 * columns are folded into one running total per (node, process, cgroup, pod) as they are read,
 * without a row object each, so memory follows the number of distinct processes, not rows.
 * Each file's monotonic timestamps are compared only with that file's window (the wall-clock
 * window moved onto its clock with its own offset) and turned into wall clock with that offset,
 * so clocks of different nodes and boots are never mixed.
 */
import type { InputSource } from "./inputs.ts";
import { type FileFacts, type ScanCounts, scanPodperfColumns } from "./read_parquet.ts";
import type { CounterInfo } from "../output/schema.ts";
import {
  type SummaryBy,
  type SummaryCoverage,
  type SummaryInput,
  summaryReport,
  type SummaryRow,
} from "./summary.ts";

/** Options of summarizeInputs(). */
export interface InputSummaryOptions {
  by: SummaryBy;
  /** wall-clock window, ns since the epoch */
  fromWallNs?: bigint;
  toWallNs?: bigint;
  /** CPUs for the node share (default: the files' podperf.cpus, summed over nodes) */
  cpus?: number;
}

/** A summary and what it read. */
export interface InputSummary {
  rows: SummaryRow[];
  /** wall-clock ns from the first slot to the last slot's end of the rows in the window */
  window: { from: bigint; to: bigint } | null;
  /** the window's rows with and without pod metadata */
  coverage: SummaryCoverage;
  /** CPUs the node share was computed with */
  cpus: number | null;
  /** each file's counter sources (`podperf.counters`) */
  counters: CounterInfo[][];
  /** each file read, with its row count */
  inputs: { path: string; rows: number }[];
  files: number;
  rowsRead: number;
  rowsInWindow: number;
  nodes: string[];
  counts: ScanCounts;
}

type Total = SummaryInput & { node: string; rows: number };

// what a summary reads: fewer column chunks to fetch and decode
const SUMMARY_COLUMNS = [
  "mono_ns",
  "pid",
  "comm",
  "cgroup_id",
  "cpu_ns",
  "cycles",
  "instructions",
  "llc_misses",
  "pod_name",
  "pod_namespace",
  "pod_uid",
  "container_name",
  "container_id",
];

// the distinct processes seen; past this the input is not podperf-shaped and memory would grow
const MAX_GROUPS = 5_000_000;

/** Reads every source once, streaming, and summarizes the rows inside the window. */
export async function summarizeInputs(
  sources: readonly InputSource[],
  opts: InputSummaryOptions,
): Promise<InputSummary> {
  // node → tgid → totals of that pid (usually one; more when a pid was reused)
  const byNode = new Map<string, Map<number, Total[]>>();
  let groups = 0;
  const cpusByNode = new Map<string, number>();
  let intervalNs = 0n;
  let first: bigint | null = null, last: bigint | null = null;
  let rowsRead = 0, rowsInWindow = 0;
  const counts: ScanCounts = { rowGroupsRead: 0, rowGroupsSkipped: 0 };
  const counters: CounterInfo[][] = [];
  const inputs: { path: string; rows: number }[] = [];
  for (const source of sources) {
    let facts: FileFacts | null = null;
    const scan = scanPodperfColumns(source, {
      columns: SUMMARY_COLUMNS,
      fromWallNs: opts.fromWallNs,
      toWallNs: opts.toWallNs,
      onFile: (f) => {
        facts = f;
        inputs.push({ path: f.name, rows: f.rows });
        if (f.metadata["podperf.counters"]) {
          counters.push(JSON.parse(f.metadata["podperf.counters"]));
        }
        if (f.cpus !== null) cpusByNode.set(f.node, f.cpus);
        if (f.intervalNs !== null && f.intervalNs > intervalNs) intervalNs = f.intervalNs;
      },
    }, counts);
    for await (const batch of scan) {
      const f = facts! as FileFacts;
      const off = f.monoToWallOffsetNs;
      // the window on this file's own monotonic clock
      const lo = opts.fromWallNs === undefined ? null : opts.fromWallNs - off;
      const hi = opts.toWallNs === undefined ? null : opts.toWallNs - off;
      let pids = byNode.get(f.node);
      if (!pids) byNode.set(f.node, pids = new Map());
      const c = batch.columns;
      const col = <T>(name: string) => (c.get(name) ?? []) as ArrayLike<T>;
      const mono = col<bigint>("mono_ns"), pid = col<number>("pid"), comm = col<string>("comm");
      const cg = col<bigint>("cgroup_id"), cpu = col<bigint | number>("cpu_ns");
      const cyc = col<bigint | null>("cycles"), ins = col<bigint | null>("instructions");
      const llc = col<bigint | null>("llc_misses");
      const podName = col<string | null>("pod_name"), podNs = col<string | null>("pod_namespace");
      const podUid = col<string | null>("pod_uid"), ctr = col<string | null>("container_name");
      const cid = col<string | null>("container_id");
      let bMin: bigint | null = null, bMax: bigint | null = null;
      rowsRead += batch.rows;
      for (let i = 0; i < batch.rows; i++) {
        const m = mono[i];
        if ((lo !== null && m < lo) || (hi !== null && m >= hi)) continue;
        rowsInWindow++;
        if (bMin === null || m < bMin) bMin = m;
        if (bMax === null || m > bMax) bMax = m;
        const p = pid[i], g = cg[i], cm = comm[i];
        const pn = podName[i] ?? null, pu = podUid[i] ?? null, cn = ctr[i] ?? null;
        const ci = cid[i] ?? null;
        let list = pids.get(p);
        if (!list) pids.set(p, list = []);
        let t: Total | undefined;
        for (const x of list) {
          if (
            x.cgroupId === g && x.comm === cm && x.podUid === pu && x.containerId === ci &&
            x.podName === pn && x.containerName === cn
          ) {
            t = x;
            break;
          }
        }
        const cy = cyc[i], is = ins[i], ll = llc[i];
        if (t === undefined) {
          if (++groups > MAX_GROUPS) {
            throw new RangeError(`more than ${MAX_GROUPS} distinct processes in the input`);
          }
          list.push({
            node: f.node,
            monoNs: m + off,
            tgid: p,
            comm: cm,
            cgroupId: g,
            cpuNs: Number(cpu[i]),
            cycles: cy == null ? null : Number(cy),
            instructions: is == null ? null : Number(is),
            llcMisses: ll == null ? null : Number(ll),
            podName: pn,
            podNamespace: podNs[i] ?? null,
            podUid: pu,
            containerName: cn,
            containerId: ci,
            rows: 1,
          });
          continue;
        }
        if (m + off < t.monoNs) t.monoNs = m + off;
        t.rows++;
        t.cpuNs += Number(cpu[i]);
        t.cycles = t.cycles === null || cy == null ? null : t.cycles + Number(cy);
        t.instructions = t.instructions === null || is == null ? null : t.instructions + Number(is);
        t.llcMisses = t.llcMisses === null || ll == null ? null : t.llcMisses + Number(ll);
      }
      if (bMin !== null) {
        const w0 = bMin + off, w1 = bMax! + off;
        if (first === null || w0 < first) first = w0;
        if (last === null || w1 > last) last = w1;
      }
    }
  }
  const interval = intervalNs > 0n ? intervalNs : 1_000_000n;
  const cpus = opts.cpus ??
    (cpusByNode.size ? [...cpusByNode.values()].reduce((a, b) => a + b, 0) : undefined);
  function* totals(): Generator<Total> {
    for (const pids of byNode.values()) for (const list of pids.values()) yield* list;
  }
  // merged totals carry the wall time of their first row: the merged stream is on wall time
  const report = summaryReport(first === null ? [] : totals(), {
    by: opts.by,
    from: first ?? undefined,
    to: first === null ? undefined : last! + interval,
    intervalNs: interval,
    cpus,
  });
  return {
    rows: report.groups,
    window: report.window === null ? null : { from: first!, to: last! + interval },
    coverage: report.coverage,
    cpus: cpus ?? null,
    counters,
    inputs,
    files: sources.length,
    rowsRead,
    rowsInWindow,
    nodes: [...byNode.entries()].filter(([, m]) => m.size > 0).map(([n]) => n).sort(),
    counts,
  };
}
