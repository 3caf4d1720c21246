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
  const columns: ColumnData[] = ROW_COLUMNS.map(({ el, field }): ColumnData => {
    switch (el.type) {
      case "BYTE_ARRAY":
        return { kind: "str", values: [], idx: new Int32Array(n) };
      case "INT64":
        // a bigint field stays exact (mono_ns, cgroup_id); OPTIONAL ones hold NaN for NULL
        return el.repetition_type !== "OPTIONAL" && n > 0 && typeof rows[0][field] === "bigint"
          ? { kind: "i64", data: new BigInt64Array(n) }
          : { kind: "f64", data: new Float64Array(n) };
      case "INT32":
        return { kind: "i32", data: new Int32Array(n) };
      case "BOOLEAN":
        return { kind: "bool", data: new Uint8Array(n) };
      default:
        throw new Error(`column ${el.name}: type ${el.type} is not supported by the row batch`);
    }
  });
  const maps = columns.map(() => new Map<string, number>());
  const key = columns.map((c) => c.kind).join(",");
  let pack = PACKERS.get(key);
  if (!pack) PACKERS.set(key, pack = compilePacker(columns));
  pack(rows, columns, maps, intern);
  const transfer = columns.map((c) => (c.kind === "str" ? c.idx : c.data).buffer as ArrayBuffer);
  return { batch: { rows: n, columns }, transfer };
}

type Packer = (
  rows: readonly OutputRow[],
  columns: ColumnData[],
  maps: Map<string, number>[],
  intern: (values: string[], map: Map<string, number>, v: string) => number,
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
for (let i = 0; i < rows.length; i++) {
  const r = rows[i];
  ${body.join("\n  ")}
}`;
  return new Function("rows", "columns", "maps", "intern", src) as Packer;
}
