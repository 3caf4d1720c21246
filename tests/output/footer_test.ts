import assert from "@podperf/assert";
import { join } from "node:path";
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import { queryParquet } from "../helpers/duckdb.ts";
import { CONFIG, row } from "./fixtures.ts";

async function write(rows: number, rowGroupRows: number) {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "f.parquet");
  const w = new ParquetFileWriter({ path, config: CONFIG, rowGroupRows });
  for (let i = 0; i < rows; i++) w.append(row(i));
  return { dir, path, info: await w.close() };
}

for (const groups of [1, 14, 15, 16, 300]) {
  Deno.test(`a footer with ${groups} row group(s) is read whole, metadata after them intact`, async () => {
    const { dir, path } = await write(groups * 3, 3);
    try {
      const [meta] = await queryParquet(
        `SELECT num_rows, num_row_groups, created_by FROM parquet_file_metadata('${path}')`,
      );
      assert.deepEqual(meta, {
        num_rows: BigInt(groups * 3),
        num_row_groups: BigInt(groups),
        created_by: "podperf version 0.1.0-test",
      });
      const kv = await queryParquet(
        `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}')`,
      );
      assert.equal(kv.length, 7);
      assert.equal(kv.find((e) => e.k === "podperf.node")?.v, "node-a");
      const [{ n, last }] = await queryParquet(
        `SELECT count(*) AS n, max(mono_ns) AS last FROM read_parquet('${path}')`,
      );
      assert.equal(n, BigInt(groups * 3));
      assert.equal(last, row(groups * 3 - 1).monoNs);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a file closed without rows is a valid empty Parquet file", async () => {
  const { dir, path, info } = await write(0, 10);
  try {
    assert.equal(info.rows, 0);
    const [{ n }] = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${path}')`);
    assert.equal(n, 0n);
    const [cov] = await queryParquet(
      `SELECT decode(value) AS v FROM parquet_kv_metadata('${path}')
        WHERE decode(key) = 'podperf.coverage'`,
    );
    assert.deepEqual(JSON.parse(cov.v as string), {
      rows: 0,
      known_cpu_ns: 0,
      unknown_cpu_ns: 0,
      known_cycles: 0,
      unknown_cycles: 0,
      rows_carried: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
