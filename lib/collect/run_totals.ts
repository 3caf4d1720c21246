/**
 * Per-run totals for the end-of-collection summary: one merged row per (process, cgroup), so a
 * run's memory grows with the number of processes, not with its length. A run without end
 * (the node agent, `--no-summary`) keeps none; a finite one is capped at `maxRows` keys, past
 * which new processes merge into one "(others)" row per cgroup-less bucket, counted.
 */
import type { OutputRow } from "../output/mod.ts";
import type { RowSink } from "../sink.ts";
import { COUNTER_FIELDS as COUNTERS } from "../sampler/counter_table.ts";

/**
 * Default bound on merged rows: ≈0.76 KiB each, so ≈38 MB at most, well inside the DaemonSet's
 * 512 MiB, while a 10-minute run on a busy node (tens of thousands of processes) stays exact.
 */
export const DEFAULT_MAX_TOTAL_ROWS = 50_000;
/** comm of the row that takes processes arriving after the cap. */
export const OTHERS_COMM = "(others)";
const OTHERS_KEY = "others";

/** Merges rows by (tgid, cgroup id); counters stay null once any merged row lacked them. */
export class RunTotals implements RowSink {
  readonly maxRows: number;
  #rows = new Map<string, OutputRow>();
  #from: bigint | null = null;
  #to: bigint | null = null;
  #overflowRows = 0;

  constructor(opts: { maxRows?: number } = {}) {
    this.maxRows = opts.maxRows ?? DEFAULT_MAX_TOTAL_ROWS;
  }

  /** Merged rows held (the "(others)" row included). */
  get size(): number {
    return this.#rows.size;
  }

  /** Input rows merged into "(others)" because the cap was reached. */
  get overflowRows(): number {
    return this.#overflowRows;
  }

  /** RowSink: the same as add(). */
  append(rows: readonly OutputRow[]): void {
    this.add(rows);
  }

  /** RowSink: nothing to finish. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Adds rows (already joined with metadata). */
  add(rows: readonly OutputRow[]): void {
    for (const row of rows) {
      if (this.#from === null || row.monoNs < this.#from) this.#from = row.monoNs;
      if (this.#to === null || row.monoNs > this.#to) this.#to = row.monoNs;
      let key = `${row.tgid}/${row.cgroupId}`;
      let acc = this.#rows.get(key);
      if (!acc && this.#rows.size >= this.maxRows) {
        // Past the cap a new process is not lost: its time lands in one anonymous row.
        this.#overflowRows++;
        key = OTHERS_KEY;
        acc = this.#rows.get(key);
        if (!acc) {
          this.#rows.set(key, {
            ...row,
            tgid: 0,
            comm: OTHERS_COMM,
            cgroupId: 0n,
            podName: null,
            podNamespace: null,
            podUid: null,
            containerName: null,
            containerId: null,
            metaSource: null,
          });
          continue;
        }
      }
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
      if (key !== OTHERS_KEY && acc.metaSource === null && row.metaSource !== null) {
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
