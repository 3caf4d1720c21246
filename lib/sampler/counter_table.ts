/**
 * The one table of counters. Everything else is derived from it: the BPF slot (the entry's
 * index, read from the `counters` PERF_EVENT_ARRAY at slot * nr_cpus + cpu), the perf event
 * each slot opens, the record decoder, the aggregator's valid/scaled masks, the SlotRow field,
 * the Parquet column and the reader. A new counter is one entry here plus
 * PODPERF_NR_COUNTERS in bpf/podperf.h (tests/sampler/record_test.ts checks they agree).
 */

/** How one counter is opened and where its value goes. */
export interface CounterDef {
  /** user-facing name (`--counters`), equal to its Parquet column */
  readonly name: string;
  /** SlotRow/OutputRow property */
  readonly field: string;
  /** perf_event_attr type and config (PERF_TYPE_HARDWARE = 0, PERF_TYPE_SOFTWARE = 1) */
  readonly type: number;
  readonly config: number;
}

/** The counters, in BPF slot order. */
export const COUNTERS = [
  { name: "cycles", field: "cycles", type: 0, config: 0 }, // PERF_COUNT_HW_CPU_CYCLES
  { name: "instructions", field: "instructions", type: 0, config: 1 }, // HW_INSTRUCTIONS
  { name: "llc_misses", field: "llcMisses", type: 0, config: 3 }, // HW_CACHE_MISSES
  { name: "page_faults", field: "pageFaults", type: 1, config: 2 }, // SW_PAGE_FAULTS
  { name: "context_switches", field: "contextSwitches", type: 1, config: 3 }, // SW_CONTEXT_SWITCHES
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
