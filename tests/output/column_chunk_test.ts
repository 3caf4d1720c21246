import assert from "@podperf/assert";
import { join } from "node:path";
import { PAGE_ROWS } from "../../lib/output/column_chunk.ts";
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import type { FileConfig, OutputRow } from "../../lib/output/schema.ts";
import { queryParquet } from "../helpers/duckdb.ts";
import { CONFIG, row } from "./fixtures.ts";

async function withFile(
  rows: OutputRow[],
  opts: { rowGroupRows?: number; config?: FileConfig },
  check: (path: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.parquet");
    const w = new ParquetFileWriter({ path, config: opts.config ?? CONFIG, ...opts });
    for (const r of rows) w.append(r);
    await w.close();
    await check(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function columnMeta(path: string, col: string) {
  return await queryParquet(
    `SELECT row_group_id AS g, encodings, stats_min_value AS lo, stats_max_value AS hi,
            stats_null_count AS nulls
       FROM parquet_metadata('${path}') WHERE path_in_schema = '${col}' ORDER BY g`,
  );
}

Deno.test("statistics: signed ts, unsigned cgroup ids, strings in UTF-8 byte order", async () => {
  const rows = [
    row(0, { cgroupId: 2n ** 64n - 1n, comm: "😀" }),
    row(1, { cgroupId: 1n, comm: "\uFFFD" }),
    row(2, { cgroupId: 2n ** 63n, comm: "a" }),
  ];
  await withFile(rows, {}, async (path) => {
    const [cg] = await columnMeta(path, "cgroup_id");
    // in signed order 2^64-1 is -1 and would be the minimum
    assert.deepEqual([cg.lo, cg.hi], ["1", "18446744073709551615"]);
    const [comm] = await columnMeta(path, "comm");
    assert.deepEqual([comm.lo, comm.hi], ["a", "😀"]);
    const [ts] = await columnMeta(path, "ts");
    assert.deepEqual([ts.lo, ts.hi], [
      "2023-11-14 22:13:25.123456789",
      "2023-11-14 22:13:25.125456789",
    ]);
    const [pods] = await columnMeta(path, "pod_name");
    assert.equal(pods.nulls, 2n);
    // DuckDB skips a row group by these statistics: the filter must still find the row
    const [{ n }] = await queryParquet(
      `SELECT count(*) AS n FROM read_parquet('${path}') WHERE cgroup_id = 18446744073709551615`,
    );
    assert.equal(n, 1n);
  });
});

Deno.test("ts = mono_ns + offset carries from the low 32 bits into the high ones", async () => {
  const config = { ...CONFIG, monoToWallOffsetNs: 1n };
  const monos = [2n ** 32n - 1n, 2n ** 33n - 1n, 2n ** 62n + 2n ** 32n - 1n, 0n];
  const rows = monos.map((monoNs, i) => row(i, { monoNs }));
  await withFile(rows, { config }, async (path) => {
    const got = await queryParquet(
      `SELECT mono_ns, epoch_ns(ts) AS ts FROM read_parquet('${path}') ORDER BY mono_ns`,
    );
    assert.deepEqual(
      got.map((r) => r.ts),
      [...monos].sort((a, b) => Number(a - b)).map((m) => m + 1n),
    );
  });
});

Deno.test("a row group of more rows than a page holds splits into pages that read back whole", async () => {
  const n = PAGE_ROWS + 1234;
  const rows = Array.from({ length: n }, (_, i) =>
    row(i, {
      cpuNs: (i * 7919) % 1_000_003, // mostly distinct: PLAIN
      cycles: i % 10 === 0 ? null : i % 4, // few values: dictionary, with NULLs
    }));
  await withFile(rows, { rowGroupRows: n }, async (path) => {
    const [got] = await queryParquet(
      `SELECT count(*) AS n, sum(cpu_ns) AS cpu, sum(cycles) AS cycles, count(cycles) AS cyc_n,
              count(pod_name) AS pods, sum(pid) AS pids, max(mono_ns) AS last
         FROM read_parquet('${path}')`,
    );
    const sum = (f: (r: OutputRow) => number) => rows.reduce((a, r) => a + f(r), 0);
    assert.equal(got.n, BigInt(n));
    assert.equal(got.cpu, BigInt(sum((r) => r.cpuNs)));
    assert.equal(got.cycles, BigInt(sum((r) => r.cycles ?? 0)));
    assert.equal(got.cyc_n, BigInt(rows.filter((r) => r.cycles !== null).length));
    assert.equal(got.pods, BigInt(rows.filter((r) => r.podName !== null).length));
    assert.equal(got.pids, BigInt(sum((r) => r.tgid)));
    assert.equal(got.last, rows[n - 1].monoNs);
    const groups = await columnMeta(path, "cpu_ns");
    assert.equal(groups.length, 1, "one row group");
  });
});

Deno.test("integer chunks use a dictionary only when values repeat; exact values either way", async () => {
  const rows = Array.from({ length: 1000 }, (_, i) =>
    row(i, {
      cpuNs: i * 1_000_003,
      // these share their low word: no dictionary may mix them up
      cgroupId: i % 2 ? 5n + 2n ** 32n : 5n + 2n ** 33n,
      pageFaults: i % 3,
    }));
  await withFile(rows, {}, async (path) => {
    const enc = async (col: string) => String((await columnMeta(path, col))[0].encodings);
    assert.equal(await enc("cpu_ns"), "PLAIN");
    assert.match(await enc("page_faults"), /RLE_DICTIONARY/);
    assert.match(await enc("pid"), /RLE_DICTIONARY/);
    assert.equal(await enc("cgroup_id"), "PLAIN");
    const got = await queryParquet(
      `SELECT cgroup_id, count(*) AS n, sum(page_faults) AS pf, max(cpu_ns) AS cpu
         FROM read_parquet('${path}') GROUP BY cgroup_id ORDER BY cgroup_id`,
    );
    assert.deepEqual(got.map((r) => [r.cgroup_id, r.n]), [[5n + 2n ** 32n, 500n], [
      5n + 2n ** 33n,
      500n,
    ]]);
    assert.equal(got[0].cpu, 999n * 1_000_003n);
  });
});

Deno.test("all-NULL chunks, fractional counters and one-row groups read back", async () => {
  const rows = Array.from({ length: 130 }, (_, i) =>
    row(i, {
      podName: null,
      podNamespace: null,
      podUid: null,
      containerName: null,
      containerId: null,
      metaSource: null,
      pageFaults: null,
      cycles: 2.5 + i, // a scaled counter: stored rounded
      scaled: i === 129,
    }));
  // 64-row groups: the last group has two rows
  await withFile(rows, { rowGroupRows: 64 }, async (path) => {
    const [got] = await queryParquet(
      `SELECT count(*) AS n, count(pod_name) AS pods, count(meta_source) AS src,
              count(page_faults) AS pf, min(cycles) AS lo, max(cycles) AS hi,
              count(*) FILTER (WHERE scaled) AS scaled
         FROM read_parquet('${path}')`,
    );
    assert.deepEqual(got, { n: 130n, pods: 0n, src: 0n, pf: 0n, lo: 3n, hi: 132n, scaled: 1n });
    const groups = await columnMeta(path, "pod_name");
    assert.deepEqual(groups.map((g) => g.nulls), [64n, 64n, 2n]);
  });
});
