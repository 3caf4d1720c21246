/**
 * The Parquet contract of podperf (docs/DESIGN.md "Rows"): the row the writer takes, the
 * column schema it writes and the file key/value metadata.
 */
import type { SchemaElement } from "hyparquet";
import type { SlotRow } from "../aggregate/slot_row.ts";
import { COUNTER_FIELDS, COUNTERS } from "../sampler/counter_table.ts";

/** Where a row's pod columns came from; null in a row means unknown. */
export type MetaSource = "nri" | "oci" | "cgroup-path";

/**
 * One output row: the aggregator's SlotRow fields plus the pod columns from the metadata join.
 * A SlotRow spread together with the pod fields is an OutputRow.
 */
export interface OutputRow extends SlotRow {
  podName: string | null;
  podNamespace: string | null;
  podUid: string | null;
  containerName: string | null;
  containerId: string | null;
  metaSource: MetaSource | null;
}

/** The pod fields an OutputRow takes from lib/metadata's PodMeta (`image` is not a column). */
export interface PodColumns {
  podName: string | null;
  podNamespace: string | null;
  podUid: string | null;
  containerName: string | null;
  containerId: string | null;
  source: MetaSource;
}

/** The aggregator's part of a row (SlotRow in docs/DESIGN.md). */
export type SlotColumns = Omit<
  OutputRow,
  "podName" | "podNamespace" | "podUid" | "containerName" | "containerId" | "metaSource"
>;

/** Joins a slot row with its pod metadata (null = unknown cgroup) into an OutputRow. */
export function outputRow(slot: SlotColumns, meta: PodColumns | null): OutputRow {
  // one literal, then the counters in table order: one object shape for every row
  const row = {
    monoNs: slot.monoNs,
    tgid: slot.tgid,
    comm: slot.comm,
    cgroupId: slot.cgroupId,
    cpuNs: slot.cpuNs,
    runqDelayNs: slot.runqDelayNs,
    runqWaits: slot.runqWaits,
    scaled: slot.scaled,
    carried: slot.carried,
    records: slot.records,
    podName: meta?.podName ?? null,
    podNamespace: meta?.podNamespace ?? null,
    podUid: meta?.podUid ?? null,
    containerName: meta?.containerName ?? null,
    containerId: meta?.containerId ?? null,
    metaSource: meta?.source ?? null,
  } as OutputRow;
  for (const f of COUNTER_FIELDS) row[f] = slot[f];
  return row;
}

/** How one counter is measured on this node (the sampler's report), stored as JSON. */
export interface CounterInfo {
  name: string;
  source: "hardware" | "software" | "unavailable";
  detail?: string;
}

/** What is constant for every file a collector writes. */
export interface FileConfig {
  /** podperf version, stored as `podperf.version` and in created_by */
  version: string;
  /** node name: the `node` column and `podperf.node` */
  node: string;
  /** slot length in ns: the `interval_ns` column and `podperf.interval_ns` */
  intervalNs: bigint;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC measured at start-up; `ts = mono_ns + offset` */
  monoToWallOffsetNs: bigint;
  /** the sampler's counter sources, stored as `podperf.counters` */
  counters: readonly CounterInfo[];
  /** CPUs sampled, stored as `podperf.cpus` (the denominator of a node CPU share) */
  cpus: number;
}

/** CPU time in one file split by whether the row's cgroup had pod metadata. */
export interface Coverage {
  rows: number;
  knownCpuNs: number;
  unknownCpuNs: number;
  /** cycles of rows with and without pod metadata (0 where cycles are not counted) */
  knownCycles: number;
  unknownCycles: number;
  /** rows whose records absorbed charges a full ring could not take (`carried`) */
  rowsCarried?: number;
}

/** A file's coverage before its first row; the writer counts carried rows, so it is set. */
export function emptyCoverage(): Required<Coverage> {
  return {
    rows: 0,
    knownCpuNs: 0,
    unknownCpuNs: 0,
    knownCycles: 0,
    unknownCycles: 0,
    rowsCarried: 0,
  };
}

const REQUIRED = "REQUIRED" as const;
const OPTIONAL = "OPTIONAL" as const;
const STRING = { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } };
const INT64 = { type: "INT64" } as const;

// Parquet columns in file order; names and types are the contract of docs/DESIGN.md.
const COLUMNS: SchemaElement[] = [
  {
    name: "ts",
    type: "INT64",
    // not UTC-adjusted: DuckDB reads an adjusted ns timestamp as TIMESTAMPTZ with µs precision
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "NANOS" },
    repetition_type: REQUIRED,
  },
  { name: "mono_ns", ...INT64, repetition_type: REQUIRED },
  { name: "interval_ns", ...INT64, repetition_type: REQUIRED },
  { name: "node", ...STRING, repetition_type: REQUIRED },
  { name: "pid", type: "INT32", repetition_type: REQUIRED },
  { name: "comm", ...STRING, repetition_type: REQUIRED },
  {
    name: "cgroup_id",
    type: "INT64",
    // converted type only: hyparquet-writer encodes the INTEGER logical type's i8 bitWidth as
    // an i32, which DuckDB rejects ("TProtocolException: Invalid data")
    converted_type: "UINT_64",
    repetition_type: REQUIRED,
  },
  { name: "cpu_ns", ...INT64, repetition_type: REQUIRED },
  { name: "runq_delay_ns", ...INT64, repetition_type: REQUIRED },
  { name: "runq_waits", type: "INT32", repetition_type: REQUIRED },
  // one nullable INT64 per entry of lib/sampler/counter_table.ts
  ...COUNTERS.map((c) => ({ name: c.name, ...INT64, repetition_type: OPTIONAL })),
  { name: "scaled", type: "BOOLEAN", repetition_type: REQUIRED },
  { name: "carried", type: "BOOLEAN", repetition_type: REQUIRED },
  { name: "records", type: "INT32", repetition_type: REQUIRED },
  { name: "pod_name", ...STRING, repetition_type: OPTIONAL },
  { name: "pod_namespace", ...STRING, repetition_type: OPTIONAL },
  { name: "pod_uid", ...STRING, repetition_type: OPTIONAL },
  { name: "container_name", ...STRING, repetition_type: OPTIONAL },
  { name: "container_id", ...STRING, repetition_type: OPTIONAL },
  { name: "meta_source", ...STRING, repetition_type: OPTIONAL },
] as SchemaElement[];

/** The Parquet schema: the root element followed by COLUMNS in file order. */
export const PARQUET_SCHEMA: readonly SchemaElement[] = [
  { name: "root", num_children: COLUMNS.length },
  ...COLUMNS,
];

/** Names of the string columns, which are always dictionary-encoded. */
export const STRING_COLUMNS: ReadonlySet<string> = new Set(
  PARQUET_SCHEMA.filter((e) => e.converted_type === "UTF8").map((e) => e.name),
);

/** Builds the file key/value metadata; coverage is known only once the file is complete. */
export function fileMetadata(
  config: FileConfig,
  coverage: Coverage,
): { key: string; value: string }[] {
  return [
    { key: "podperf.version", value: config.version },
    { key: "podperf.node", value: config.node },
    { key: "podperf.interval_ns", value: config.intervalNs.toString() },
    { key: "podperf.counters", value: JSON.stringify(config.counters) },
    { key: "podperf.mono_to_wall_offset_ns", value: config.monoToWallOffsetNs.toString() },
    { key: "podperf.cpus", value: String(config.cpus) },
    coverageMetadata(coverage),
  ];
}

/** The `podperf.coverage` key/value entry of a file. */
export function coverageMetadata(coverage: Coverage): { key: string; value: string } {
  return {
    key: "podperf.coverage",
    value: JSON.stringify({
      rows: coverage.rows,
      known_cpu_ns: coverage.knownCpuNs,
      unknown_cpu_ns: coverage.unknownCpuNs,
      known_cycles: coverage.knownCycles,
      unknown_cycles: coverage.unknownCycles,
      // only where the writer counts it
      ...(coverage.rowsCarried === undefined ? {} : { rows_carried: coverage.rowsCarried }),
    }),
  };
}

/**
 * A wall-clock offset this far from the current file's means the clock stepped (NTP at boot,
 * an operator): the file is completed so each file has one offset that holds for all its rows.
 * NTP slewing moves the offset at most 0.5 ms/s, far below this within a file's age.
 */
export const CLOCK_STEP_NS = 100_000_000n;

/** Whether two measured wall-clock offsets are a clock step apart (CLOCK_STEP_NS). */
export function clockStepped(a: bigint, b: bigint): boolean {
  return a - b > CLOCK_STEP_NS || b - a > CLOCK_STEP_NS;
}
