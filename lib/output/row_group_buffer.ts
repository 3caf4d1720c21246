/**
 * Columnar buffers for one row group: rows (or row batches) are copied into typed arrays
 * (numbers) and dictionary indexes (strings) as they arrive, and the group is encoded from those
 * arrays without building a JS value per cell. The columns follow PARQUET_SCHEMA.
 */
import type { SchemaElement } from "hyparquet";
import type { ChunkEncoder, ThriftObject } from "./column_chunk.ts";
import { ROW_COLUMNS, type RowBatch, rowColumnIndex } from "./row_batch.ts";
import { release } from "./release.ts";
import { StringColumn } from "./string_column.ts";
import { type Coverage, type FileConfig, type OutputRow, PARQUET_SCHEMA } from "./schema.ts";

// Per-row bytes of the fixed-width columns once encoded uncompressed, for the byte bound.
const FIXED_ROW_BYTES = PARQUET_SCHEMA.slice(1).reduce(
  (sum, e) =>
    sum + (e.type === "INT64" ? 8 : e.type === "INT32" ? 4 : e.type === "BOOLEAN" ? 1 : 0),
  0,
);
// slot times rise steadily: PLAIN + ZSTD beats a dictionary of them
const PLAIN_COLUMNS = new Set(["ts", "mono_ns", "interval_ns"]);
const MONO = rowColumnIndex("mono_ns");
const META_SOURCE = rowColumnIndex("meta_source");
const CPU_NS = rowColumnIndex("cpu_ns");
const CYCLES = rowColumnIndex("cycles");
const CARRIED = rowColumnIndex("carried");

// One buffered column; INT64 values are held as words when the rows carry bigints (exact
// u64/i64), else as numbers with NaN for NULL.
type Buffered =
  | {
    kind: "int64";
    el: SchemaElement;
    words: Int32Array;
    i64: BigInt64Array; // the same memory as words
    f64: Float64Array;
    bigint: boolean;
  }
  | { kind: "i32"; el: SchemaElement; data: Int32Array }
  | { kind: "bool"; el: SchemaElement; data: Uint8Array }
  | { kind: "str"; el: SchemaElement; col: StringColumn };

/** Column buffers for at most `capacity` rows; reused after each flush. */
export class RowGroupBuffer {
  #length = 0;
  readonly #cols: Buffered[];
  readonly #ts: Int32Array;
  readonly #intervalNs: Int32Array;
  readonly #node: StringColumn;
  readonly #offsetLo: number;
  readonly #offsetHi: number;
  readonly #nodeName: string;

  constructor(readonly capacity: number, config: FileConfig) {
    this.#cols = ROW_COLUMNS.map(({ el }): Buffered => {
      switch (el.type) {
        case "INT64": {
          const i64 = new BigInt64Array(capacity);
          return {
            kind: "int64",
            el,
            words: words(i64),
            i64,
            f64: new Float64Array(capacity),
            bigint: false,
          };
        }
        case "INT32":
          return { kind: "i32", el, data: new Int32Array(capacity) };
        case "BOOLEAN":
          return { kind: "bool", el, data: new Uint8Array(capacity) };
        default:
          return { kind: "str", el, col: new StringColumn(capacity) };
      }
    });
    this.#ts = new Int32Array(2 * capacity);
    this.#intervalNs = words(new BigInt64Array(capacity).fill(config.intervalNs));
    this.#node = new StringColumn(capacity);
    // ts = mono_ns + offset is added in 32-bit halves at flush: no BigInt per row
    const offset = BigInt.asUintN(64, config.monoToWallOffsetNs);
    this.#offsetLo = Number(offset & 0xffffffffn);
    this.#offsetHi = Number(offset >> 32n);
    this.#nodeName = config.node;
  }

  /** Frees the buffers (lib/output/release.ts), once the file is done with them. */
  release(): void {
    for (const c of this.#cols) {
      if (c.kind === "int64") release(c.i64, c.f64);
      else if (c.kind === "str") release(c.col.indexes);
      else release(c.data);
    }
    release(this.#ts, this.#intervalNs, this.#node.indexes);
  }

  /** Rows currently buffered. */
  get length(): number {
    return this.#length;
  }

  /** Estimated uncompressed bytes of the buffered rows (fixed columns + string payloads). */
  get bytes(): number {
    let chars = 0;
    for (const c of this.#cols) if (c.kind === "str") chars += c.col.chars;
    return this.#length * FIXED_ROW_BYTES + chars;
  }

  /** True when no further row fits. */
  get full(): boolean {
    return this.#length >= this.capacity;
  }

  /** Copies one row in; the caller checks `full` first. Adds its CPU time to `coverage`. */
  push(row: OutputRow, coverage: Coverage): void {
    const i = this.#length;
    for (let k = 0; k < this.#cols.length; k++) {
      const c = this.#cols[k];
      const v = row[ROW_COLUMNS[k].field];
      switch (c.kind) {
        case "int64":
          if (typeof v === "bigint" && c.el.repetition_type !== "OPTIONAL") {
            c.i64[i] = v; // a u64 ≥ 2^63 wraps to the same 64 bits
            c.bigint = true;
          } else c.f64[i] = v === null || v === undefined ? NaN : Number(v);
          break;
        case "i32":
          c.data[i] = v as number;
          break;
        case "bool":
          c.data[i] = v ? 1 : 0;
          break;
        case "str":
          c.col.push(i, v as string | null);
      }
    }
    this.#node.push(i, this.#nodeName);
    this.#length = i + 1;
    const cycles = CYCLES < 0 ? null : row.cycles;
    addCoverage(coverage, row.metaSource === null, row.cpuNs, cycles ?? 0, row.carried);
  }

  /**
   * Copies rows [from, from + count) of a batch in; the caller makes sure they fit. Adds their
   * CPU time to `coverage`.
   */
  pushBatch(batch: RowBatch, from: number, count: number, coverage: Coverage): void {
    const start = this.#length;
    for (let k = 0; k < this.#cols.length; k++) {
      const c = this.#cols[k], src = batch.columns[k];
      switch (c.kind) {
        case "int64":
          if (src.kind === "i64") {
            c.words.set(words(src.data).subarray(2 * from, 2 * (from + count)), 2 * start);
            c.bigint = true;
          } else if (src.kind === "f64") {
            c.f64.set(src.data.subarray(from, from + count), start);
          }
          break;
        case "i32":
          c.data.set((src as { data: Int32Array }).data.subarray(from, from + count), start);
          break;
        case "bool":
          c.data.set((src as { data: Uint8Array }).data.subarray(from, from + count), start);
          break;
        case "str": {
          const s = src as { values: string[]; idx: Int32Array };
          for (let i = 0; i < count; i++) {
            const id = s.idx[from + i];
            c.col.push(start + i, id < 0 ? null : s.values[id]);
          }
        }
      }
    }
    for (let i = 0; i < count; i++) this.#node.push(start + i, this.#nodeName);
    this.#length = start + count;
    const meta = META_SOURCE < 0 ? null : batch.columns[META_SOURCE] as { idx: Int32Array };
    const cpu = CPU_NS < 0 ? null : batch.columns[CPU_NS] as { data: Float64Array };
    const cyc = CYCLES < 0 ? null : batch.columns[CYCLES] as { data: Float64Array };
    const car = CARRIED < 0 ? null : batch.columns[CARRIED] as { data: Uint8Array };
    for (let i = from; i < from + count; i++) {
      const c = cyc ? cyc.data[i] : 0;
      addCoverage(
        coverage,
        meta ? meta.idx[i] < 0 : true,
        cpu ? cpu.data[i] : 0,
        c === c ? c : 0,
        car !== null && car.data[i] !== 0,
      );
    }
  }

  /** Mono time of the first buffered row as ns (0 when empty); the first slot of a file. */
  firstMonoNs(): bigint {
    if (this.#length === 0 || MONO < 0) return 0n;
    const c = this.#cols[MONO];
    if (c.kind !== "int64") return 0n;
    return c.bigint
      ? (BigInt(c.words[1]) << 32n) | BigInt(c.words[0] >>> 0)
      : BigInt(Math.round(c.f64[0]));
  }

  /** Encodes the buffered rows as column chunks in PARQUET_SCHEMA order; clear() afterwards. */
  encode(enc: ChunkEncoder): ThriftObject[] {
    const n = this.#length;
    const out: ThriftObject[] = [];
    let k = 0;
    for (const el of PARQUET_SCHEMA.slice(1)) {
      if (el.name === "ts") {
        out.push(enc.int64(el, this.#tsWords(n), n, { unsigned: false, dictionary: false }));
      } else if (el.name === "node") {
        out.push(enc.strings(el, this.#node, n));
      } else if (el.name === "interval_ns") {
        out.push(enc.int64(el, this.#intervalNs, n, { unsigned: false, dictionary: false }));
      } else {
        const c = this.#cols[k++];
        switch (c.kind) {
          case "int64":
            out.push(
              c.bigint
                ? enc.int64(el, c.words, n, {
                  unsigned: el.converted_type === "UINT_64",
                  dictionary: !PLAIN_COLUMNS.has(el.name),
                })
                : enc.int64FromNumbers(el, c.f64, n),
            );
            break;
          case "i32":
            out.push(enc.int32(el, c.data, n));
            break;
          case "bool":
            out.push(enc.boolean(el, c.data, n));
            break;
          case "str":
            out.push(enc.strings(el, c.col, n));
        }
      }
    }
    return out;
  }

  /** Forgets the buffered rows and their dictionaries. */
  clear(): void {
    this.#node.clear();
    for (const c of this.#cols) {
      if (c.kind === "str") c.col.clear();
      else if (c.kind === "int64") c.bigint = false;
    }
    this.#length = 0;
  }

  #tsWords(n: number): Int32Array {
    const ts = this.#ts;
    const c = this.#cols[MONO];
    let mono: Int32Array;
    if (c.kind === "int64" && c.bigint) mono = c.words;
    else {
      mono = ts; // numbers: convert in place first
      const f = c.kind === "int64" ? c.f64 : new Float64Array(n);
      for (let i = 0; i < n; i++) setNumberWords(ts, i, f[i]);
    }
    const lo = this.#offsetLo, hi = this.#offsetHi;
    for (let i = 0; i < 2 * n; i += 2) {
      const sum = (mono[i] >>> 0) + lo;
      const high = mono[i + 1] + hi + (sum > 0xffffffff ? 1 : 0);
      ts[i] = sum; // stored modulo 2^32
      ts[i + 1] = high;
    }
    return ts;
  }
}

function addCoverage(
  cov: Coverage,
  unknown: boolean,
  cpuNs: number,
  cycles: number,
  carried: boolean,
): void {
  cov.rows++;
  if (carried) cov.rowsCarried = (cov.rowsCarried ?? 0) + 1;
  if (unknown) {
    cov.unknownCpuNs += cpuNs;
    cov.unknownCycles += cycles;
  } else {
    cov.knownCpuNs += cpuNs;
    cov.knownCycles += cycles;
  }
}

function words(a: BigInt64Array | BigUint64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, 2 * a.length);
}

const TWO_32 = 4294967296;
function setNumberWords(w: Int32Array, i: number, v: number): void {
  const h = Math.floor(v / TWO_32);
  w[2 * i] = v - h * TWO_32;
  w[2 * i + 1] = h;
}
