/**
 * Rows in columns of typed arrays: how OutputRows cross from the collector's loop to the writer
 * Worker (the arrays' buffers are transferred, not copied). Which columns exist and how each is
 * carried is derived from PARQUET_SCHEMA, so a column added there flows through unchanged.
 */
import type { SchemaElement } from "hyparquet";
import { release } from "./release.ts";
import { type OutputRow, PARQUET_SCHEMA } from "./schema.ts";

/** How one column travels: its values as one typed array (strings: per-batch dictionary). */
export type ColumnData =
  | { kind: "i64"; data: BigInt64Array } // a REQUIRED INT64 column held as bigint (mono_ns, …)
  | { kind: "f64"; data: Float64Array } // an INT64 held as number; NaN = NULL
  | { kind: "i32"; data: Int32Array }
  | { kind: "bool"; data: Uint8Array }
  | { kind: "str"; values: string[]; idx: Int32Array }; // idx -1 = NULL

/** A batch of rows, column by column in ROW_COLUMNS order. */
export interface RowBatch {
  rows: number;
  columns: ColumnData[];
}

/** One column the rows carry: its schema element and the OutputRow field it comes from. */
export interface RowColumn {
  el: SchemaElement;
  field: keyof OutputRow;
  index: number;
}

// Columns the writer fills itself, not from the row: ts = mono_ns + the file's clock offset,
// node and interval_ns are constant for a file.
export const DERIVED_COLUMNS: ReadonlySet<string> = new Set(["ts", "node", "interval_ns"]);
// Where the row field is not the column name in camelCase.
const FIELD_OF: Record<string, keyof OutputRow> = { pid: "tgid" };

function camel(name: string): keyof OutputRow {
  return (FIELD_OF[name] ??
    name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())) as keyof OutputRow;
}

/** The columns carried by a RowBatch, in schema order (PARQUET_SCHEMA minus DERIVED_COLUMNS). */
export const ROW_COLUMNS: readonly RowColumn[] = PARQUET_SCHEMA.slice(1)
  .filter((el) => !DERIVED_COLUMNS.has(el.name))
  .map((el, index) => {
    if (el.type === "INT32" && el.repetition_type === "OPTIONAL") {
      throw new Error(`column ${el.name}: OPTIONAL INT32 is not supported by the row batch`);
    }
    return { el, field: camel(el.name), index };
  });

/** Index of a column in ROW_COLUMNS, or -1 when the schema has no such column. */
export function rowColumnIndex(name: string): number {
  return ROW_COLUMNS.findIndex((c) => c.el.name === name);
}

/** Packs rows into columns; `transfer` lists the buffers to hand to postMessage. */
export function packRows(
  rows: readonly OutputRow[],
): { batch: RowBatch; transfer: ArrayBuffer[] } {
  const b = new RowBatchBuilder(rows.length);
  b.push(rows);
  return b.finish();
}

/**
 * Packs successive runs of rows into one batch, so that rows can be handed over in small
 * groups (each group's row objects die young, before V8 promotes them) while the Worker still
 * gets few, large batches. A column's kind follows the first rows pushed (`accepts` tells
 * whether later rows agree). Its columns are allocated once at `capacity` rows: batches of one
 * size reuse the allocator's freed blocks, where columns grown by doubling left the loop
 * thread's malloc heap at 28–42 MiB under 64 runnable tasks, against 25 at one size (12.5 once
 * the Worker freed batches as it took them; BENCHMARKS.md, sixteenth pass).
 */
export class RowBatchBuilder {
  #rows = 0;
  #capacity: number;
  #columns: ColumnData[] | null = null;
  #key = "";
  #maps: Map<string, number>[] = [];
  #pack: Packer | null = null;

  /** `capacity`: rows the columns hold before they must grow */
  constructor(capacity: number) {
    this.#capacity = Math.max(0, capacity);
  }

  /** Rows pushed so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Rows that can still be pushed without growing the columns. */
  get room(): number {
    return this.#capacity - this.#rows;
  }

  /** Whether `rows` pack into this builder's column kinds (an empty builder takes any). */
  accepts(rows: readonly OutputRow[]): boolean {
    return this.#columns === null || rows.length === 0 || kindsKey(rows[0]) === this.#key;
  }

  /**
   * Appends `rows` after those pushed before, growing the columns past `room` (a copy). Throws
   * when a value does not fit its column (check `accepts` first); the rows of a call that threw
   * are not counted.
   */
  push(rows: readonly OutputRow[]): void {
    const n = rows.length;
    if (!this.#columns) this.#start(rows[0]);
    if (n === 0) return;
    if (this.#rows + n > this.#capacity) this.#grow(Math.max(2 * this.#capacity, this.#rows + n));
    this.#pack!(rows, this.#columns!, this.#maps, intern, this.#rows);
    this.#rows += n;
  }

  /** The rows pushed so far as a batch, and its buffers; once those are transferred, no more push. */
  finish(): { batch: RowBatch; transfer: ArrayBuffer[] } {
    if (!this.#columns) this.#start(undefined);
    const columns = this.#columns!;
    const transfer = columns.map((c) => (c.kind === "str" ? c.idx : c.data).buffer as ArrayBuffer);
    return { batch: { rows: this.#rows, columns }, transfer };
  }

  #start(sample: OutputRow | undefined): void {
    const n = this.#capacity;
    this.#columns = ROW_COLUMNS.map(({ el, field }): ColumnData => {
      switch (columnKind(el, field, sample)) {
        case "str":
          return { kind: "str", values: [], idx: new Int32Array(n) };
        case "i64":
          return { kind: "i64", data: new BigInt64Array(n) };
        case "f64":
          return { kind: "f64", data: new Float64Array(n) };
        case "i32":
          return { kind: "i32", data: new Int32Array(n) };
        case "bool":
          return { kind: "bool", data: new Uint8Array(n) };
      }
    });
    this.#maps = this.#columns.map(() => new Map<string, number>());
    this.#key = this.#columns.map((c) => c.kind).join(",");
    let pack = PACKERS.get(this.#key);
    if (!pack) PACKERS.set(this.#key, pack = compilePacker(this.#columns));
    this.#pack = pack;
  }

  #grow(capacity: number): void {
    for (const c of this.#columns!) {
      if (c.kind === "str") c.idx = grown(c.idx, capacity);
      else (c as { data: TypedColumn }).data = grown(c.data, capacity);
    }
    this.#capacity = capacity;
  }
}

type TypedColumn = BigInt64Array | Float64Array | Int32Array | Uint8Array;

/** A copy of `old` in a new array of its own type with room for `capacity` values. */
function grown<T extends TypedColumn>(old: T, capacity: number): T {
  const into = new (old.constructor as new (n: number) => T)(capacity);
  (into as { set(a: T): void }).set(old);
  return into;
}

type ColumnKind = ColumnData["kind"];

function columnKind(el: SchemaElement, field: keyof OutputRow, sample?: OutputRow): ColumnKind {
  switch (el.type) {
    case "BYTE_ARRAY":
      return "str";
    case "INT64":
      // a bigint field stays exact (mono_ns, cgroup_id); OPTIONAL ones hold NaN for NULL
      return el.repetition_type !== "OPTIONAL" && typeof sample?.[field] === "bigint"
        ? "i64"
        : "f64";
    case "INT32":
      return "i32";
    case "BOOLEAN":
      return "bool";
    default:
      throw new Error(`column ${el.name}: type ${el.type} is not supported by the row batch`);
  }
}

function kindsKey(sample: OutputRow): string {
  return ROW_COLUMNS.map(({ el, field }) => columnKind(el, field, sample)).join(",");
}

/**
 * Frees a batch's column memory now (lib/output/release.ts): for the Worker once the rows are
 * copied into its row group. Left to the Worker's GC, the blocks piled up in the collector
 * thread's malloc heap that allocated them.
 */
export function releaseBatch(batch: RowBatch): void {
  release(...batch.columns.map((c) => c.kind === "str" ? c.idx : c.data));
}

type Packer = (
  rows: readonly OutputRow[],
  columns: ColumnData[],
  maps: Map<string, number>[],
  intern: (values: string[], map: Map<string, number>, v: string) => number,
  start: number,
) => void;
const PACKERS = new Map<string, Packer>();

function intern(values: string[], map: Map<string, number>, v: string): number {
  let id = map.get(v);
  if (id === undefined) {
    id = values.length;
    values.push(v);
    map.set(v, id);
  }
  return id;
}

// One straight-line loop over the rows for this column layout: each property read is
// monomorphic (rows share one shape), where a loop over column names would read every field
// through a megamorphic keyed access (measured 4× slower). The field names come from
// PARQUET_SCHEMA, never from data.
function compilePacker(columns: ColumnData[]): Packer {
  const head: string[] = [], body: string[] = [];
  ROW_COLUMNS.forEach(({ field }, k) => {
    if (!/^[A-Za-z0-9_]+$/.test(field)) throw new Error(`bad field name ${field}`);
    const c = columns[k];
    if (c.kind === "str") {
      head.push(
        `const i${k} = columns[${k}].idx, v${k} = columns[${k}].values, m${k} = maps[${k}];`,
      );
      head.push(`let l${k} = null, li${k} = -1;`);
      body.push(
        `{ const v = r.${field};`,
        `  if (v === null || v === undefined) i${k}[i] = -1;`,
        `  else { if (v !== l${k}) { l${k} = v; li${k} = intern(v${k}, m${k}, v); } i${k}[i] = li${k}; } }`,
      );
      return;
    }
    head.push(`const d${k} = columns[${k}].data;`);
    if (c.kind === "i64") body.push(`d${k}[i] = r.${field};`);
    else if (c.kind === "f64") {
      body.push(
        `{ const v = r.${field}; d${k}[i] = v === null || v === undefined ? NaN : Number(v); }`,
      );
    } else if (c.kind === "i32") body.push(`d${k}[i] = r.${field};`);
    else body.push(`d${k}[i] = r.${field} ? 1 : 0;`);
  });
  const src = `${head.join("\n")}
for (let j = 0; j < rows.length; j++) {
  const r = rows[j], i = start + j;
  ${body.join("\n  ")}
}`;
  return new Function("rows", "columns", "maps", "intern", "start", src) as Packer;
}
