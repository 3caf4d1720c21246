/** The eBPF sampler: 1 ms tick + sched_switch records drained from a ring buffer. */

export { Sampler } from "./loader.ts";
export type { BpfProgramStats, SamplerOptions, SamplerStats } from "./loader.ts";
export type { CounterSource } from "./counters.ts";
export {
  BpfLoadError,
  BtfMissingError,
  LibbpfMissingError,
  NotRootError,
  PerfEventOpenError,
  RingMmapError,
  SamplerOptionError,
} from "./errors.ts";
export {
  COMM_LEN,
  COUNTER_NAMES,
  decodeRecord,
  FLAG_CARRIED,
  FLAG_ONE_SLOT,
  FLAG_SWITCH,
  FLAG_UNSEEN,
  flagScaled,
  flagValid,
  NR_COUNTERS,
  OFF,
  PENDING,
  PENDING_OFF,
  PENDING_SIZE,
  RECORD_SIZE,
} from "./record.ts";
export type { CounterName, DecodedRecord } from "./record.ts";
export { COUNTER_FIELDS, COUNTERS } from "./counter_table.ts";
export type { CounterDef, CounterField, CounterValues } from "./counter_table.ts";
export type { RecordCallback } from "./ring_reader.ts";
export { type DrainPriority, raiseDrainPriority } from "./priority.ts";
export { measureMonoToWallOffsetNs, monoNowNs, wallNowNs } from "./clock.ts";
export {
  MAX_RING_BYTES,
  measureRecordRate,
  MIN_RING_BYTES,
  RING_HOLD_S,
  RING_RECORD_BYTES,
  ringBytesFor,
} from "./ring_size.ts";
