import assert from "@podperf/assert";
import {
  type ColumnData,
  packRows,
  releaseBatch,
  ROW_COLUMNS,
  type RowBatch,
  RowBatchBuilder,
} from "../../lib/output/row_batch.ts";
import type { OutputRow } from "../../lib/output/schema.ts";
import { row } from "./fixtures.ts";

const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => row(from + k));

/** The batch's rows as plain values, column by column (strings resolved): what the Worker reads. */
function unpack(batch: RowBatch): unknown[][] {
  return batch.columns.map((c: ColumnData) => {
    const out: unknown[] = [];
    for (let i = 0; i < batch.rows; i++) {
      if (c.kind === "str") out.push(c.idx[i] < 0 ? null : c.values[c.idx[i]]);
      else out.push(c.data[i]);
    }
    return out;
  });
}

Deno.test("rows pushed in groups make the batch packRows makes of them at once", () => {
  const all = rows(0, 1000);
  const b = new RowBatchBuilder(300);
  for (let i = 0; i < all.length; i += 37) b.push(all.slice(i, i + 37));
  const { batch, transfer } = b.finish();
  const whole = packRows(all).batch;
  assert.equal(batch.rows, 1000);
  assert.deepEqual(batch.columns.map((c) => c.kind), whole.columns.map((c) => c.kind));
  assert.deepEqual(unpack(batch), unpack(whole));
  // one dictionary per string column across the groups, not one per group
  const comm = ROW_COLUMNS.findIndex((c) => c.field === "comm");
  assert.deepEqual((batch.columns[comm] as { values: string[] }).values.length, 7);
  assert.equal(transfer.length, ROW_COLUMNS.length);
});

Deno.test("a builder fills its capacity without growing and tells its room", () => {
  const b = new RowBatchBuilder(100);
  b.push(rows(0, 60));
  assert.equal(b.room, 40);
  const mono = ROW_COLUMNS.findIndex((c) => c.field === "monoNs");
  const before = (b.finish().batch.columns[mono] as { data: BigInt64Array }).data;
  b.push(rows(60, 40));
  assert.equal(b.room, 0);
  assert.equal((b.finish().batch.columns[mono] as { data: BigInt64Array }).data, before);
  // past its room it grows (a copy) and keeps every row
  b.push(rows(100, 5));
  const { batch } = b.finish();
  assert.equal(batch.rows, 105);
  assert.deepEqual(unpack(batch), unpack(packRows(rows(0, 105)).batch));
});

Deno.test("a builder accepts only rows whose column kinds match its first rows'", () => {
  const b = new RowBatchBuilder(10);
  assert.ok(b.accepts(rows(0, 1)));
  b.push(rows(0, 1));
  assert.ok(b.accepts(rows(1, 1)));
  assert.ok(b.accepts([]));
  // mono_ns as a number instead of a bigint: another column kind
  const numeric = { ...row(2), monoNs: 5 } as unknown as OutputRow;
  assert.equal(b.accepts([numeric]), false);
  assert.throws(() => b.push([numeric]));
  assert.equal(b.rows, 1);
});

Deno.test("releaseBatch frees a batch's columns: every buffer is detached", () => {
  const { batch, transfer } = packRows(rows(0, 50));
  releaseBatch(batch);
  assert.ok(transfer.every((buf) => buf.detached));
  releaseBatch(batch); // twice is harmless
});
