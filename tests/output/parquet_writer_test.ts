import assert from "@podperf/assert";
import { join } from "node:path";
import { ParquetFileWriter, tmpPathFor } from "../../lib/output/parquet_writer.ts";
import { parquetColumnTypes, queryParquet } from "../helpers/duckdb.ts";
import { CONFIG, row } from "./fixtures.ts";

async function writeFile(
  rows: ReturnType<typeof row>[],
  opts: { rowGroupRows?: number; rowGroupBytes?: number } = {},
) {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t.parquet");
  const w = new ParquetFileWriter({ path, config: CONFIG, ...opts });
  for (const r of rows) w.append(r);
  const info = await w.close();
  return { dir, path, info };
}

const EDGE_ROWS = [
  row(0, { cgroupId: 2n ** 63n, comm: "ünï😀-naïve", cycles: 0, instructions: null }),
  row(1, { cgroupId: 2n ** 64n - 1n, comm: "", podName: "", containerId: "" }),
  row(2, { cgroupId: 1n, cycles: 123_456_789_012, scaled: true, records: 2_000_000_000 }),
];

Deno.test("DuckDB reads the contract's column types", async () => {
  const { path, dir } = await writeFile(EDGE_ROWS);
  try {
    assert.deepEqual(await parquetColumnTypes(path), {
      ts: "TIMESTAMP_NS",
      mono_ns: "BIGINT",
      interval_ns: "BIGINT",
      node: "VARCHAR",
      pid: "INTEGER",
      comm: "VARCHAR",
      cgroup_id: "UBIGINT",
      cpu_ns: "BIGINT",
      runq_delay_ns: "BIGINT",
      runq_waits: "INTEGER",
      cycles: "BIGINT",
      instructions: "BIGINT",
      llc_misses: "BIGINT",
      page_faults: "BIGINT",
      context_switches: "BIGINT",
      scaled: "BOOLEAN",
      carried: "BOOLEAN",
      records: "INTEGER",
      pod_name: "VARCHAR",
      pod_namespace: "VARCHAR",
      pod_uid: "VARCHAR",
      container_name: "VARCHAR",
      container_id: "VARCHAR",
      meta_source: "VARCHAR",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("edge values round-trip exactly: u64 ≥ 2^63, NULL vs 0, ns timestamps, unicode, '' vs NULL", async () => {
  const { path, dir } = await writeFile(EDGE_ROWS);
  try {
    const got = await queryParquet(
      `SELECT ts::VARCHAR AS ts_text, epoch_ns(ts) AS ts_ns, mono_ns, interval_ns, node, pid, comm,
              cgroup_id, cpu_ns, cycles, instructions, scaled, records, pod_name, pod_namespace,
              container_id, meta_source
         FROM read_parquet('${path}') ORDER BY mono_ns`,
    );
    assert.equal(got.length, 3);
    // 5_000_000_000 + 1_700_000_000_123_456_789 ns: every ns digit must survive
    assert.equal(got[0].ts_text, "2023-11-14 22:13:25.123456789");
    assert.equal(got[1].ts_ns, 1_700_000_005_124_456_789n);
    assert.equal(got[0].mono_ns, 5_000_000_000n);
    assert.equal(got[0].interval_ns, 1_000_000n);
    assert.equal(got[0].node, "node-a");
    assert.equal(got[0].pid, 1000);
    assert.deepEqual(got.map((r) => r.cgroup_id), [2n ** 63n, 2n ** 64n - 1n, 1n]);
    assert.deepEqual(got.map((r) => r.comm), ["ünï😀-naïve", "", "proc-2"]);
    assert.deepEqual(got.map((r) => r.cycles), [0n, null, 123_456_789_012n]);
    assert.deepEqual(got.map((r) => r.instructions), [null, null, null]);
    assert.deepEqual(got.map((r) => r.scaled), [false, false, true]);
    assert.deepEqual(got.map((r) => r.records), [1, 2, 2_000_000_000]);
    assert.deepEqual(got.map((r) => r.cpu_ns), [1000n, 1001n, 1002n]);
    // row 0 has no pod metadata (NULL), row 1 has explicitly empty strings
    assert.deepEqual(got.map((r) => r.pod_name), [null, "", null]);
    assert.deepEqual(got.map((r) => r.container_id), [null, "", null]);
    assert.deepEqual(got.map((r) => r.pod_namespace), [null, "default", null]);
    assert.deepEqual(got.map((r) => r.meta_source), [null, "nri", null]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file metadata carries config, counters and coverage computed from the rows", async () => {
  // every third row absorbed charges a full ring could not take
  const rows = Array.from(
    { length: 10 },
    (_, i) => ({ ...row(i), cycles: 10 * i, carried: i % 3 === 0 }),
  );
  const { path, dir, info } = await writeFile(rows);
  try {
    const kv = Object.fromEntries(
      (await queryParquet(
        `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}')`,
      )).map((r) => [r.k, r.v]),
    );
    assert.equal(kv["podperf.version"], "0.1.0-test");
    assert.equal(kv["podperf.node"], "node-a");
    assert.equal(kv["podperf.interval_ns"], "1000000");
    assert.equal(kv["podperf.mono_to_wall_offset_ns"], "1700000000123456789");
    assert.deepEqual(JSON.parse(kv["podperf.counters"] as string), CONFIG.counters);
    assert.equal(kv["podperf.cpus"], "2");
    // odd rows carry pod metadata: cpu ns 1001+1003+…+1009 known, 1000+1002+…+1008 unknown;
    // cycles 10+30+…+90 known, 0+20+…+80 unknown
    const coverage = {
      rows: 10,
      known_cpu_ns: 5025,
      unknown_cpu_ns: 5020,
      known_cycles: 250,
      unknown_cycles: 200,
      rows_carried: 4,
    };
    assert.deepEqual(JSON.parse(kv["podperf.coverage"] as string), coverage);
    assert.deepEqual(info.coverage, {
      rows: 10,
      knownCpuNs: 5025,
      unknownCpuNs: 5020,
      knownCycles: 250,
      unknownCycles: 200,
      rowsCarried: 4,
    });
    const [{ created_by }] = await queryParquet(
      `SELECT created_by FROM parquet_file_metadata('${path}')`,
    );
    assert.equal(created_by, "podperf version 0.1.0-test");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every column is ZSTD and string columns are dictionary-encoded", async () => {
  const rows = Array.from({ length: 500 }, (_, i) => row(i));
  const { path, dir } = await writeFile(rows);
  try {
    const meta = await queryParquet(
      `SELECT path_in_schema AS col, compression, encodings FROM parquet_metadata('${path}')`,
    );
    assert.equal(meta.length, 24);
    for (const m of meta) assert.equal(m.compression, "ZSTD", `${m.col}`);
    const strings = [
      "node",
      "comm",
      "pod_name",
      "pod_namespace",
      "pod_uid",
      "container_name",
      "container_id",
      "meta_source",
    ];
    for (const col of strings) {
      const m = meta.find((x) => x.col === col);
      assert.match(String(m?.encodings), /RLE_DICTIONARY/, col);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("row groups are bounded by rows and by bytes", async () => {
  const rows = Array.from({ length: 250 }, (_, i) => row(i));
  const byRows = await writeFile(rows, { rowGroupRows: 100 });
  const byBytes = await writeFile(rows, { rowGroupRows: 1000, rowGroupBytes: 10_000 });
  try {
    const groups = async (path: string) =>
      (await queryParquet(
        `SELECT row_group_id, any_value(row_group_num_rows) AS n FROM parquet_metadata('${path}')
          GROUP BY row_group_id ORDER BY row_group_id`,
      )).map((r) => Number(r.n));
    assert.deepEqual(await groups(byRows.path), [100, 100, 50]);
    const sizes = await groups(byBytes.path);
    assert.ok(sizes.length > 1, `expected several row groups, got ${sizes}`);
    assert.equal(sizes.reduce((a, b) => a + b), 250);
    // 81 fixed-width bytes a row alone put 124 rows over 10 kB; strings make it fewer
    for (const n of sizes) assert.ok(n < 124, `row group of ${n} rows exceeds the byte bound`);
  } finally {
    await Deno.remove(byRows.dir, { recursive: true });
    await Deno.remove(byBytes.dir, { recursive: true });
  }
});

Deno.test("an open file exists only under its temporary name until close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.parquet");
    const w = new ParquetFileWriter({ path, config: CONFIG, rowGroupRows: 10, owner: "abc" });
    for (let i = 0; i < 35; i++) w.append(row(i));
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [".x.parquet.abc.rowgroups", ".x.parquet.abc.tmp"],
    );
    assert.equal(tmpPathFor(path, "abc"), join(dir, ".x.parquet.abc.tmp"));
    // created 0640 (under the usual umask 022)
    assert.equal((await Deno.lstat(join(dir, ".x.parquet.abc.tmp"))).mode! & 0o777, 0o640);
    const info = await w.close();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.parquet"]);
    assert.equal(info.rows, 35);
    assert.equal(info.bytes, (await Deno.stat(path)).size);
    const [{ n }] = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${path}')`);
    assert.equal(n, 35n);
    await assert.rejects(() => w.close(), { name: "OutputClosedError" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("peak memory is bounded by the row group, not by the rows in the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const peak = async (rows: number) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./memory_fixture.ts", import.meta.url).pathname,
          join(dir, `m${rows}.parquet`),
          String(rows),
        ],
        stderr: "inherit",
      }).output();
      assert.equal(out.code, 0);
      const report = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(report.rows, rows);
      return report.peakRssBytes / 2 ** 20;
    };
    const small = await peak(100_000);
    const large = await peak(1_500_000);
    // hyparquet-writer's column API peaked at ~180 MB for 100 k rows and ~240 MB for 1 M;
    // a writer whose memory follows the file would add tens of MB for 14× the rows
    assert.ok(large - small < 30, `peak RSS ${small.toFixed(0)} MB → ${large.toFixed(0)} MB`);
    assert.ok(large < 150, `peak RSS ${large.toFixed(0)} MB for 1.5 M rows`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a symlink planted under the temporary name is refused, never written through", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const victim = join(dir, "victim");
    await Deno.writeTextFile(victim, "precious");
    const path = join(dir, "x.parquet");
    await Deno.symlink(victim, tmpPathFor(path, "abc"));
    assert.throws(
      () => new ParquetFileWriter({ path, config: CONFIG, owner: "abc" }),
      (e: Error) => e.name === "OutputWriteError" && /EEXIST/.test((e as { code?: string }).code!),
    );
    assert.equal(await Deno.readTextFile(victim), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
