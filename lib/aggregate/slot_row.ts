/** The aggregator's output row (docs/DESIGN.md "Rows"). */
import type { CounterValues } from "../sampler/counter_table.ts";

/**
 * One row per (1 ms slot, tgid, cgroup id); a plain object because rows are few per record.
 * Its counter properties (cycles, instructions, …) come from lib/sampler/counter_table.ts:
 * null when the counter was not valid in every record of the row.
 */
export interface SlotRow extends CounterValues {
  /** slot start, CLOCK_MONOTONIC ns (a multiple of the interval) */
  monoNs: bigint;
  /** process id */
  tgid: number;
  /** process name: the thread-group leader's comm, from the first record of the slot */
  comm: string;
  /** cgroup2 inode */
  cgroupId: bigint;
  /** ns the scheduler charged inside the slot (records split pro rata at slot edges) */
  cpuNs: number;
  /** ns spent runnable but waiting for a CPU inside the slot (split at slot edges) */
  runqDelayNs: number;
  /** run-queue waits that ended in the slot */
  runqWaits: number;
  /** some counter value in the row was scaled for multiplexing */
  scaled: boolean;
  /** some record absorbed stretches lost to a full ring (its placement is coarse) */
  carried: boolean;
  /** runs (each ended by a switch or a tick) that contributed; the kernel sums several per record */
  records: number;
}
