/**
 * Per-run totals for the end-of-collection summary: one merged row per (process, cgroup), so a
 * long run's memory grows with the number of processes, not with its length.
 */
import type { OutputRow } from "../output/mod.ts";
import { COUNTER_FIELDS as COUNTERS } from "../sampler/counter_table.ts";

/** Merges rows by (tgid, cgroup id); counters stay null once any merged row lacked them. */
export class RunTotals {
  #rows = new Map<string, OutputRow>();
  #from: bigint | null = null;
  #to: bigint | null = null;

  /** Adds rows (already joined with metadata). */
  add(rows: readonly OutputRow[]): void {
    for (const row of rows) {
      if (this.#from === null || row.monoNs < this.#from) this.#from = row.monoNs;
      if (this.#to === null || row.monoNs > this.#to) this.#to = row.monoNs;
      const key = `${row.tgid}/${row.cgroupId}`;
      const acc = this.#rows.get(key);
      if (!acc) {
        this.#rows.set(key, { ...row });
        continue;
      }
      acc.cpuNs += row.cpuNs;
      acc.runqDelayNs += row.runqDelayNs;
      acc.runqWaits += row.runqWaits;
      acc.records += row.records;
      acc.scaled ||= row.scaled;
      acc.carried ||= row.carried;
      for (const k of COUNTERS) {
        const v = row[k];
        acc[k] = acc[k] === null || v === null ? null : acc[k]! + v;
      }
      // Metadata can arrive after a process's first rows (a container seen before NRI told us).
      if (acc.metaSource === null && row.metaSource !== null) {
        acc.podName = row.podName;
        acc.podNamespace = row.podNamespace;
        acc.podUid = row.podUid;
        acc.containerName = row.containerName;
        acc.containerId = row.containerId;
        acc.metaSource = row.metaSource;
      }
    }
  }

  /** The merged rows, each stamped with the first slot of the run. */
  rows(): OutputRow[] {
    const from = this.#from ?? 0n;
    return [...this.#rows.values()].map((r) => ({ ...r, monoNs: from }));
  }

  /** First and last slot start seen, or null before any row. */
  window(): { from: bigint; to: bigint } | null {
    return this.#from === null || this.#to === null ? null : { from: this.#from, to: this.#to };
  }
}
