/**
 * `summary` over any number of files, local or in a bucket, in bounded memory: each row group is
 * folded into one running total per (node, process, cgroup, pod) as it is read, so memory
 * follows the number of distinct processes, not rows. Each file's monotonic timestamps are
 * turned into wall clock with that file's own offset before anything is compared, so clocks of
 * different nodes and boots are never mixed.
 */
import type { OutputRow } from "../output/schema.ts";
import type { InputSource } from "./inputs.ts";
import { type FileFacts, type ScanCounts, scanPodperf } from "./read_parquet.ts";
import { summarize, type SummaryBy, type SummaryInput, type SummaryRow } from "./summary.ts";

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
  files: number;
  rowsRead: number;
  rowsInWindow: number;
  nodes: string[];
  counts: ScanCounts;
}

type Total = SummaryInput & { node: string; rows: number };

const add = (a: number | null, b: number | null) => a === null || b === null ? null : a + b;

/** Reads every source once, streaming, and summarizes the rows inside the window. */
export async function summarizeInputs(
  sources: readonly InputSource[],
  opts: InputSummaryOptions,
): Promise<InputSummary> {
  const totals = new Map<string, Total>();
  const cpusByNode = new Map<string, number>();
  let intervalNs = 0n;
  let first: bigint | null = null, last: bigint | null = null;
  let rowsRead = 0, rowsInWindow = 0;
  const counts: ScanCounts = { rowGroupsRead: 0, rowGroupsSkipped: 0 };
  for (const source of sources) {
    let facts: FileFacts | null = null;
    const scan = scanPodperf(source, {
      fromWallNs: opts.fromWallNs,
      toWallNs: opts.toWallNs,
      onFile: (f) => {
        facts = f;
        if (f.cpus !== null) cpusByNode.set(f.node, f.cpus);
        if (f.intervalNs !== null && f.intervalNs > intervalNs) intervalNs = f.intervalNs;
      },
    }, counts);
    for await (const batch of scan) {
      const f = facts! as FileFacts;
      rowsRead += batch.length;
      for (const r of batch) {
        const wall = r.monoNs + f.monoToWallOffsetNs;
        if (opts.fromWallNs !== undefined && wall < opts.fromWallNs) continue;
        if (opts.toWallNs !== undefined && wall >= opts.toWallNs) continue;
        rowsInWindow++;
        if (first === null || wall < first) first = wall;
        if (last === null || wall > last) last = wall;
        fold(totals, f.node, wall, r);
      }
    }
  }
  const interval = intervalNs > 0n ? intervalNs : 1_000_000n;
  const cpus = opts.cpus ??
    (cpusByNode.size ? [...cpusByNode.values()].reduce((a, b) => a + b, 0) : undefined);
  const rows = first === null ? [] : summarize(totals.values(), {
    by: opts.by,
    from: first,
    to: last! + interval,
    intervalNs: interval,
    cpus,
  });
  return {
    rows,
    files: sources.length,
    rowsRead,
    rowsInWindow,
    nodes: [...new Set([...totals.values()].map((t) => t.node))].sort(),
    counts,
  };
}

// one running total per identity; its monoNs is the wall time of its first row (the merged
// stream is on the wall clock, see the module comment)
function fold(totals: Map<string, Total>, node: string, wall: bigint, r: OutputRow): void {
  const key = `${node}\0${r.tgid}\0${r.comm}\0${r.cgroupId}\0${r.podUid}\0${r.containerId}\0` +
    `${r.podName}\0${r.containerName}`;
  const t = totals.get(key);
  if (t === undefined) {
    totals.set(key, {
      node,
      monoNs: wall,
      tgid: r.tgid,
      comm: r.comm,
      cgroupId: r.cgroupId,
      cpuNs: r.cpuNs,
      cycles: r.cycles,
      instructions: r.instructions,
      llcMisses: r.llcMisses,
      podName: r.podName,
      podNamespace: r.podNamespace,
      podUid: r.podUid,
      containerName: r.containerName,
      containerId: r.containerId,
      rows: 1,
    });
    return;
  }
  if (wall < t.monoNs) t.monoNs = wall;
  t.rows++;
  t.cpuNs += r.cpuNs;
  t.cycles = add(t.cycles, r.cycles);
  t.instructions = add(t.instructions, r.instructions);
  t.llcMisses = add(t.llcMisses, r.llcMisses);
}
