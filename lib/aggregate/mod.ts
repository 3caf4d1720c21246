/** 1 ms slots per process and cgroup: sampler records in, SlotRows out. */
export {
  AggregateConfigError,
  type AggregatorStats,
  SlotAggregator,
  type SlotAggregatorOptions,
} from "./aggregator.ts";
export type { SlotRow } from "./slot_row.ts";
