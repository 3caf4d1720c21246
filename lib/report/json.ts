/**
 * JSON output of the CLI: one convention for every command (README "JSON output"): snake_case
 * keys like the Parquet columns, one object per command run, NDJSON only for streams; bigints
 * as strings, so u64 ids survive any JSON reader.
 */
import type { CounterInfo } from "../output/schema.ts";
import type { SummaryBy, SummaryCoverage, SummaryRow } from "./summary.ts";

/** A JSON.stringify replacer writing bigints as decimal strings. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Rows as one pretty JSON array (for `--json`). */
export function formatJson(rows: readonly unknown[]): string {
  return JSON.stringify(rows, bigintReplacer, 2) + "\n";
}

/** Rows as JSON Lines: one compact object per line. */
export function formatJsonLines(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r, bigintReplacer) + "\n").join("");
}

/**
 * Wall-clock ns since the epoch as ISO 8601 UTC with all nine fraction digits
 * (`2026-11-23T17:00:00.123456789Z`), which Date alone cannot print.
 */
export function isoFromNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const sub = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${sub.toString().padStart(9, "0")}Z`;
}

/** One summary group in the CLI's JSON convention: snake_case, as the Parquet columns. */
export function summaryGroupJson(g: SummaryRow): Record<string, unknown> {
  return {
    node: g.node,
    pod_namespace: g.podNamespace,
    pod_name: g.podName,
    pod_uid: g.podUid,
    container_name: g.containerName,
    container_id: g.containerId,
    pid: g.tgid,
    comm: g.comm,
    cgroup_id: g.cgroupId,
    cgroup_path: g.cgroupPath,
    cpu_ns: g.cpuNs,
    cpu_seconds: g.cpuSeconds,
    node_cpu_percent: g.nodeShare === null ? null : g.nodeShare * 100,
    cycles: g.cycles,
    instructions: g.instructions,
    llc_misses: g.llcMisses,
    ipc: g.ipc,
    llc_mpki: g.llcMpki,
    rows: g.rows,
  };
}

/** What the top of a summary document says besides its groups. */
export interface SummaryDocument {
  by: SummaryBy;
  /** wall-clock ns; null when no row was in the window */
  window: { from: bigint; to: bigint } | null;
  cpus: number | null;
  counters: readonly CounterInfo[];
  coverage: SummaryCoverage;
  groups: readonly SummaryRow[];
}

/**
 * The CLI's one JSON convention for summaries (`summary --json`, `collect --json`): one object,
 * snake_case keys, the window, counter sources and coverage at the top level, then `groups`;
 * u64 ids as decimal strings. `extra` adds command-specific top-level keys (files, …).
 */
export function summaryJson(doc: SummaryDocument, extra: Record<string, unknown> = {}): string {
  const cov = doc.coverage;
  const total = cov.knownCpuNs + cov.unknownCpuNs;
  return JSON.stringify(
    {
      by: doc.by,
      window: doc.window === null ? null : {
        from: isoFromNs(doc.window.from),
        to: isoFromNs(doc.window.to),
        seconds: Number(doc.window.to - doc.window.from) / 1e9,
      },
      cpus: doc.cpus,
      counters: doc.counters.map((c) => ({
        name: c.name,
        source: c.source,
        detail: c.detail ?? null,
      })),
      coverage: {
        rows: cov.rows,
        known_cpu_ns: cov.knownCpuNs,
        unknown_cpu_ns: cov.unknownCpuNs,
        known_cycles: cov.knownCycles,
        unknown_cycles: cov.unknownCycles,
        known_cpu_percent: total > 0 ? 100 * cov.knownCpuNs / total : null,
      },
      ...extra,
      groups: doc.groups.map(summaryGroupJson),
    },
    bigintReplacer,
    2,
  ) + "\n";
}
