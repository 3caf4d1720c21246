/**
 * The one table of counters. Everything else is derived from it: the BPF slot (the entry's
 * index: a perf event read from the `counters` PERF_EVENT_ARRAY at slot * nr_cpus + cpu, or the
 * task count `podperf_config.task_count` names), the event each slot opens, the record decoder,
 * the aggregator's valid/scaled masks, the SlotRow field, the Parquet column and the reader. A
 * new counter is one entry here plus PODPERF_NR_COUNTERS in bpf/podperf.h, and for a task count
 * its read in task_count() (tests/sampler/record_test.ts checks the two sides agree).
 */

/** How one counter is counted and where its value goes. */
export interface CounterDef {
  /** user-facing name (`--counters`), equal to its Parquet column */
  readonly name: string;
  /** SlotRow/OutputRow property */
  readonly field: string;
  /** The perf event each CPU opens for it (PERF_TYPE_HARDWARE = 0), read at every switch. */
  readonly event?: { readonly type: number; readonly config: number };
  /**
   * Or a count the kernel keeps per task, which the BPF side reads at every switch and tick
   * (`PODPERF_TASK_*` in bpf/podperf.h), with the fields it sums: a few loads instead of a
   * perf event read, and the number /proc/PID/stat and getrusage report for the task.
   */
  readonly task?: { readonly id: number; readonly fields: string };
}

/** The counters, in BPF slot order. */
export const COUNTERS = [
  { name: "cycles", field: "cycles", event: { type: 0, config: 0 } }, // HW_CPU_CYCLES
  { name: "instructions", field: "instructions", event: { type: 0, config: 1 } }, // HW_INSTRUCTIONS
  { name: "llc_misses", field: "llcMisses", event: { type: 0, config: 3 } }, // HW_CACHE_MISSES
  { name: "page_faults", field: "pageFaults", task: { id: 1, fields: "min_flt+maj_flt" } },
  { name: "context_switches", field: "contextSwitches", task: { id: 2, fields: "nvcsw+nivcsw" } },
] as const satisfies readonly CounterDef[];

/** Number of counter slots in a record. */
export const NR_COUNTERS = COUNTERS.length;

/** Counter names in slot order; they are the Parquet column names. */
export const COUNTER_NAMES = COUNTERS.map((c) => c.name);

/** One of the counter names. */
export type CounterName = typeof COUNTERS[number]["name"];

/** The SlotRow/OutputRow property of a counter. */
export type CounterField = typeof COUNTERS[number]["field"];

/** Row properties of the counters in slot order. */
export const COUNTER_FIELDS: readonly CounterField[] = COUNTERS.map((c) => c.field);

/** Bits 0..NR_COUNTERS-1: the valid (and, shifted by 8, scaled) bits of every counter. */
export const COUNTER_MASK = (1 << NR_COUNTERS) - 1;

/** One value per counter; null where it was not measured. */
export type CounterValues = { [K in CounterField]: number | null };
