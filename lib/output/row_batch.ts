/**
 * Rows in columns of typed arrays: how OutputRows cross from the collector's loop to the writer
 * Worker (the arrays' buffers are transferred, not copied). Which columns exist and how each is
 * carried is derived from PARQUET_SCHEMA, so a column added there flows through unchanged.
 */
import type { SchemaElement } from "hyparquet";
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
  const n = rows.length;
  const columns: ColumnData[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const { el, field } of ROW_COLUMNS) {
    let col: ColumnData;
    if (el.type === "BYTE_ARRAY") {
      const strings = packStrings(rows, field);
      transfer.push(strings.idx.buffer as ArrayBuffer);
      columns.push(strings);
      continue;
    }
    if (el.type === "INT64") {
      let bigint = false;
      if (el.repetition_type !== "OPTIONAL" && n > 0) bigint = typeof rows[0][field] === "bigint";
      if (bigint) {
        const data = new BigInt64Array(n);
        // a u64 ≥ 2^63 wraps to its two's complement: the same 64 bits on disk
        for (let i = 0; i < n; i++) data[i] = rows[i][field] as bigint;
        col = { kind: "i64", data };
      } else {
        const data = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const v = rows[i][field] as number | bigint | null;
          data[i] = v === null || v === undefined ? NaN : Number(v);
        }
        col = { kind: "f64", data };
      }
    } else if (el.type === "INT32") {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = rows[i][field] as number;
      col = { kind: "i32", data };
    } else if (el.type === "BOOLEAN") {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = rows[i][field] ? 1 : 0;
      col = { kind: "bool", data };
    } else {
      throw new Error(`column ${el.name}: type ${el.type} is not supported by the row batch`);
    }
    transfer.push(col.data.buffer as ArrayBuffer);
    columns.push(col);
  }
  return { batch: { rows: n, columns }, transfer };
}

function packStrings(
  rows: readonly OutputRow[],
  field: keyof OutputRow,
): { kind: "str"; values: string[]; idx: Int32Array } {
  const n = rows.length;
  const idx = new Int32Array(n);
  const values: string[] = [];
  const ids = new Map<string, number>();
  let last: string | null = null, lastId = -1;
  for (let i = 0; i < n; i++) {
    const v = rows[i][field] as string | null;
    if (v === null || v === undefined) {
      idx[i] = -1;
      continue;
    }
    if (v !== last) {
      let id = ids.get(v);
      if (id === undefined) {
        id = values.length;
        values.push(v);
        ids.set(v, id);
      }
      last = v;
      lastId = id;
    }
    idx[i] = lastId;
  }
  return { kind: "str", values, idx };
}
