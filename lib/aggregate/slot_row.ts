/** The aggregator's output row (docs/DESIGN.md "Rows"). */

/** One row per (1 ms slot, tgid, cgroup id); a plain object because rows are few per record. */
export interface SlotRow {
  /** slot start, CLOCK_MONOTONIC ns (a multiple of the interval) */
  monoNs: bigint;
  /** process id */
  tgid: number;
  /** process name: the comm of the first thread seen in the slot */
  comm: string;
  /** cgroup2 inode */
  cgroupId: bigint;
  /** ns on CPU inside the slot (records split pro rata at slot edges) */
  cpuNs: number;
  /** null when the counter was not valid in every record of the row */
  cycles: number | null;
  instructions: number | null;
  llcMisses: number | null;
  pageFaults: number | null;
  contextSwitches: number | null;
  /** some counter value in the row was scaled for multiplexing */
  scaled: boolean;
  /** records that contributed */
  records: number;
}
