/**
 * Columnar buffers for one row group: rows are copied into typed arrays as they arrive and
 * turned into hyparquet-writer column data when the group is flushed.
 */
import type { ColumnSource } from "hyparquet-writer";
import type { Coverage, FileConfig, OutputRow } from "./schema.ts";

// Per-row bytes of the fixed-width columns once encoded uncompressed, for the byte bound.
const FIXED_ROW_BYTES = 8 * 9 + 4 * 2 + 1;

/** Column buffers for at most `capacity` rows; reused after each flush. */
export class RowGroupBuffer {
  #length = 0;
  #stringBytes = 0;
  readonly #monoNs: BigInt64Array;
  readonly #tgid: Int32Array;
  readonly #cgroupId: BigUint64Array;
  readonly #cpuNs: Float64Array;
  // counters: value per row and column; NaN marks NULL so no side mask is needed
  readonly #counters: Float64Array[];
  readonly #scaled: Uint8Array;
  readonly #records: Int32Array;
  readonly #comm: string[];
  readonly #pod: (string | null)[][];

  constructor(readonly capacity: number) {
    this.#monoNs = new BigInt64Array(capacity);
    this.#tgid = new Int32Array(capacity);
    this.#cgroupId = new BigUint64Array(capacity);
    this.#cpuNs = new Float64Array(capacity);
    this.#counters = Array.from({ length: 5 }, () => new Float64Array(capacity));
    this.#scaled = new Uint8Array(capacity);
    this.#records = new Int32Array(capacity);
    this.#comm = new Array(capacity);
    this.#pod = Array.from({ length: 6 }, () => new Array(capacity));
  }

  /** Rows currently buffered. */
  get length(): number {
    return this.#length;
  }

  /** Estimated uncompressed bytes of the buffered rows (fixed columns + string payloads). */
  get bytes(): number {
    return this.#length * FIXED_ROW_BYTES + this.#stringBytes;
  }

  /** True when no further row fits. */
  get full(): boolean {
    return this.#length >= this.capacity;
  }

  /** Copies one row in; the caller checks `full` first. Adds its CPU time to `coverage`. */
  push(row: OutputRow, coverage: Coverage): void {
    const i = this.#length++;
    this.#monoNs[i] = row.monoNs;
    this.#tgid[i] = row.tgid;
    this.#cgroupId[i] = row.cgroupId;
    this.#cpuNs[i] = row.cpuNs;
    const c = this.#counters;
    c[0][i] = row.cycles ?? NaN;
    c[1][i] = row.instructions ?? NaN;
    c[2][i] = row.llcMisses ?? NaN;
    c[3][i] = row.pageFaults ?? NaN;
    c[4][i] = row.contextSwitches ?? NaN;
    this.#scaled[i] = row.scaled ? 1 : 0;
    this.#records[i] = row.records;
    this.#comm[i] = row.comm;
    const p = this.#pod;
    p[0][i] = row.podName;
    p[1][i] = row.podNamespace;
    p[2][i] = row.podUid;
    p[3][i] = row.containerName;
    p[4][i] = row.containerId;
    p[5][i] = row.metaSource;
    // string lengths in UTF-16 units approximate UTF-8 bytes closely enough for a bound
    this.#stringBytes += row.comm.length + (row.podName?.length ?? 0) +
      (row.podNamespace?.length ?? 0) + (row.podUid?.length ?? 0) +
      (row.containerName?.length ?? 0) + (row.containerId?.length ?? 0);
    coverage.rows++;
    if (row.metaSource === null) coverage.unknownCpuNs += row.cpuNs;
    else coverage.knownCpuNs += row.cpuNs;
  }

  /** Column data for hyparquet-writer in PARQUET_SCHEMA order; call clear() after writing it. */
  columns(config: FileConfig): ColumnSource[] {
    const n = this.#length;
    const monoNs = this.#monoNs.slice(0, n);
    const ts = new BigInt64Array(n);
    const intervalNs = new BigInt64Array(n).fill(config.intervalNs);
    const cpuNs = new BigInt64Array(n);
    const scaled = new Array<boolean>(n);
    for (let i = 0; i < n; i++) {
      ts[i] = monoNs[i] + config.monoToWallOffsetNs;
      cpuNs[i] = BigInt(Math.round(this.#cpuNs[i]));
      scaled[i] = this.#scaled[i] === 1;
    }
    const counter = (k: number) => {
      const src = this.#counters[k];
      const out = new Array<bigint | null>(n);
      // a scaled counter may carry a fraction; the INT64 column holds the nearest integer
      for (let i = 0; i < n; i++) out[i] = Number.isNaN(src[i]) ? null : BigInt(Math.round(src[i]));
      return out;
    };
    const str = (name: string, data: (string | null)[]): ColumnSource => ({
      name,
      data: data.slice(0, n),
      encoding: "RLE_DICTIONARY",
    });
    return [
      { name: "ts", data: ts },
      { name: "mono_ns", data: monoNs },
      { name: "interval_ns", data: intervalNs },
      str("node", new Array<string>(n).fill(config.node)),
      { name: "pid", data: this.#tgid.slice(0, n) },
      str("comm", this.#comm),
      { name: "cgroup_id", data: this.#cgroupId.slice(0, n) },
      { name: "cpu_ns", data: cpuNs },
      { name: "cycles", data: counter(0) },
      { name: "instructions", data: counter(1) },
      { name: "llc_misses", data: counter(2) },
      { name: "page_faults", data: counter(3) },
      { name: "context_switches", data: counter(4) },
      { name: "scaled", data: scaled },
      { name: "records", data: this.#records.slice(0, n) },
      str("pod_name", this.#pod[0]),
      str("pod_namespace", this.#pod[1]),
      str("pod_uid", this.#pod[2]),
      str("container_name", this.#pod[3]),
      str("container_id", this.#pod[4]),
      str("meta_source", this.#pod[5]),
    ];
  }

  /** Forgets the buffered rows and drops the string references so they can be collected. */
  clear(): void {
    this.#comm.fill(undefined as unknown as string, 0, this.#length);
    for (const col of this.#pod) col.fill(null, 0, this.#length);
    this.#length = 0;
    this.#stringBytes = 0;
  }
}
