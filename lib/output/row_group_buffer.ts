/**
 * Columnar buffers for one row group: each row is copied into typed arrays (numbers) and
 * dictionary indexes (strings) as it arrives, and the group is encoded from those arrays
 * without building a JS value per cell.
 */
import type { SchemaElement } from "hyparquet";
import type { ChunkEncoder, ThriftObject } from "./column_chunk.ts";
import { StringColumn } from "./string_column.ts";
import { type Coverage, type FileConfig, type OutputRow, PARQUET_SCHEMA } from "./schema.ts";
import { COUNTER_FIELDS, COUNTER_NAMES, NR_COUNTERS } from "../sampler/counter_table.ts";

// Per-row bytes of the fixed-width columns once encoded uncompressed, for the byte bound.
// INT64: ts, mono_ns, interval_ns, cgroup_id, cpu_ns, runq_delay_ns and the counters;
// INT32: pid, runq_waits, records; BOOLEAN: scaled, carried
const FIXED_ROW_BYTES = 8 * (6 + NR_COUNTERS) + 4 * 3 + 2;

const SIGNED_PLAIN = { unsigned: false, dictionary: false };
const ELEMENT = new Map(PARQUET_SCHEMA.slice(1).map((e) => [e.name, e]));
function el(name: string): SchemaElement {
  return ELEMENT.get(name)!;
}
const COUNTER_COLUMNS = COUNTER_NAMES.map(el);
const POD_COLUMNS = [
  "pod_name",
  "pod_namespace",
  "pod_uid",
  "container_name",
  "container_id",
  "meta_source",
].map(el);

/** Column buffers for at most `capacity` rows; reused after each flush. */
export class RowGroupBuffer {
  #length = 0;
  readonly #monoNs: BigInt64Array;
  readonly #ts: BigInt64Array;
  readonly #intervalNs: BigInt64Array;
  readonly #tgid: Int32Array;
  readonly #cgroupId: BigUint64Array;
  readonly #cpuNs: Float64Array;
  readonly #runqNs: Float64Array;
  readonly #runqWaits: Int32Array;
  readonly #carried: Uint8Array;
  // counters: value per row and column; NaN marks NULL so no side mask is needed
  readonly #counters: Float64Array[];
  readonly #scaled: Uint8Array;
  readonly #records: Int32Array;
  readonly #node: StringColumn;
  readonly #comm: StringColumn;
  readonly #pod: StringColumn[];
  readonly #offsetLo: number;
  readonly #offsetHi: number;
  readonly #nodeName: string;

  constructor(readonly capacity: number, config: FileConfig) {
    this.#monoNs = new BigInt64Array(capacity);
    this.#ts = new BigInt64Array(capacity);
    this.#intervalNs = new BigInt64Array(capacity).fill(config.intervalNs);
    this.#tgid = new Int32Array(capacity);
    this.#cgroupId = new BigUint64Array(capacity);
    this.#cpuNs = new Float64Array(capacity);
    this.#runqNs = new Float64Array(capacity);
    this.#runqWaits = new Int32Array(capacity);
    this.#carried = new Uint8Array(capacity);
    this.#counters = Array.from({ length: NR_COUNTERS }, () => new Float64Array(capacity));
    this.#scaled = new Uint8Array(capacity);
    this.#records = new Int32Array(capacity);
    this.#node = new StringColumn(capacity);
    this.#comm = new StringColumn(capacity);
    this.#pod = Array.from({ length: 6 }, () => new StringColumn(capacity));
    // ts = mono_ns + offset is added in 32-bit halves at flush: no BigInt per row
    const offset = BigInt.asUintN(64, config.monoToWallOffsetNs);
    this.#offsetLo = Number(offset & 0xffffffffn);
    this.#offsetHi = Number(offset >> 32n);
    this.#nodeName = config.node;
  }

  /** Rows currently buffered. */
  get length(): number {
    return this.#length;
  }

  /** Estimated uncompressed bytes of the buffered rows (fixed columns + string payloads). */
  get bytes(): number {
    let chars = this.#comm.chars;
    // meta_source is not counted: it was never part of the estimate
    for (let k = 0; k < 5; k++) chars += this.#pod[k].chars;
    return this.#length * FIXED_ROW_BYTES + chars;
  }

  /** True when no further row fits. */
  get full(): boolean {
    return this.#length >= this.capacity;
  }

  /** Copies one row in; the caller checks `full` first. Adds its CPU time to `coverage`. */
  push(row: OutputRow, coverage: Coverage): void {
    const i = this.#length;
    this.#monoNs[i] = row.monoNs;
    this.#tgid[i] = row.tgid;
    this.#cgroupId[i] = row.cgroupId;
    this.#cpuNs[i] = row.cpuNs;
    this.#runqNs[i] = row.runqDelayNs;
    this.#runqWaits[i] = row.runqWaits;
    const c = this.#counters;
    for (let k = 0; k < NR_COUNTERS; k++) c[k][i] = row[COUNTER_FIELDS[k]] ?? NaN;
    this.#scaled[i] = row.scaled ? 1 : 0;
    this.#carried[i] = row.carried ? 1 : 0;
    if (row.carried) coverage.rowsCarried = (coverage.rowsCarried ?? 0) + 1;
    this.#records[i] = row.records;
    this.#node.push(i, this.#nodeName);
    this.#comm.push(i, row.comm);
    const p = this.#pod;
    p[0].push(i, row.podName);
    p[1].push(i, row.podNamespace);
    p[2].push(i, row.podUid);
    p[3].push(i, row.containerName);
    p[4].push(i, row.containerId);
    p[5].push(i, row.metaSource);
    this.#length = i + 1;
    coverage.rows++;
    if (row.metaSource === null) {
      coverage.unknownCpuNs += row.cpuNs;
      coverage.unknownCycles += row.cycles ?? 0;
    } else {
      coverage.knownCpuNs += row.cpuNs;
      coverage.knownCycles += row.cycles ?? 0;
    }
  }

  /** Encodes the buffered rows as column chunks in PARQUET_SCHEMA order; clear() afterwards. */
  encode(enc: ChunkEncoder): ThriftObject[] {
    const n = this.#length;
    const mono = words(this.#monoNs);
    const ts = words(this.#ts);
    const lo = this.#offsetLo, hi = this.#offsetHi;
    for (let i = 0; i < 2 * n; i += 2) {
      const sum = (mono[i] >>> 0) + lo;
      ts[i] = sum; // stored modulo 2^32
      ts[i + 1] = mono[i + 1] + hi + (sum > 0xffffffff ? 1 : 0);
    }
    const [podName, podNamespace, podUid, containerName, containerId, metaSource] = POD_COLUMNS;
    const c = this.#counters, p = this.#pod;
    return [
      // slot times rise steadily: PLAIN + ZSTD beats a dictionary of them
      enc.int64(el("ts"), ts, n, SIGNED_PLAIN),
      enc.int64(el("mono_ns"), mono, n, SIGNED_PLAIN),
      enc.int64(el("interval_ns"), words(this.#intervalNs), n, SIGNED_PLAIN),
      enc.strings(el("node"), this.#node, n),
      enc.int32(el("pid"), this.#tgid, n),
      enc.strings(el("comm"), this.#comm, n),
      enc.int64(el("cgroup_id"), words(this.#cgroupId), n, { unsigned: true, dictionary: true }),
      enc.int64FromNumbers(el("cpu_ns"), this.#cpuNs, n),
      enc.int64FromNumbers(el("runq_delay_ns"), this.#runqNs, n),
      enc.int32(el("runq_waits"), this.#runqWaits, n),
      ...COUNTER_COLUMNS.map((col, k) => enc.int64FromNumbers(col, c[k], n)),
      enc.boolean(el("scaled"), this.#scaled, n),
      enc.boolean(el("carried"), this.#carried, n),
      enc.int32(el("records"), this.#records, n),
      enc.strings(podName, p[0], n),
      enc.strings(podNamespace, p[1], n),
      enc.strings(podUid, p[2], n),
      enc.strings(containerName, p[3], n),
      enc.strings(containerId, p[4], n),
      enc.strings(metaSource, p[5], n),
    ];
  }

  /** Forgets the buffered rows and their dictionaries. */
  clear(): void {
    this.#node.clear();
    this.#comm.clear();
    for (const col of this.#pod) col.clear();
    this.#length = 0;
  }
}

function words(a: BigInt64Array | BigUint64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, 2 * a.length);
}
