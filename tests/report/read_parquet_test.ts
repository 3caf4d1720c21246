import assert from "@podperf/assert";
import { join } from "node:path";
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import type { FileConfig, OutputRow } from "../../lib/output/schema.ts";
import {
  ParquetReadError,
  readPodperfFile,
  readRowsFromParquet,
  summarize,
} from "../../lib/report/mod.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";

const CONFIG: FileConfig = {
  version: "0.0.0-report-test",
  node: "node-r",
  intervalNs: 1_000_000n,
  monoToWallOffsetNs: 1_700_000_000_000_000_000n,
  cpus: 2,
  counters: [{ name: "cycles", source: "unavailable" }],
};

function makeRows(n: number, first: number): OutputRow[] {
  return Array.from({ length: n }, (_, k) => {
    const i = first + k;
    const known = i % 3 !== 0;
    return {
      monoNs: 7_000_000_000n + BigInt(Math.floor(i / 4)) * 1_000_000n,
      tgid: 100 + (i % 9),
      comm: i % 5 === 0 ? "prozeß-ü" : `worker-${i % 9}`,
      cgroupId: i % 7 === 0 ? 2n ** 64n - 1n - BigInt(i % 3) : 4000n + BigInt(i % 6),
      cpuNs: 1_000 + (i * 7919) % 900_000,
      cycles: i % 4 === 0 ? null : i * 1000,
      instructions: i % 4 === 0 ? null : i * 1700,
      llcMisses: i % 8 === 0 ? 0 : null,
      pageFaults: i % 2,
      contextSwitches: i % 11 === 0 ? null : 3,
      runqDelayNs: 0,
      runqWaits: 0,
      carried: false,
      scaled: i % 13 === 0,
      records: 1 + (i % 5),
      podName: known ? `pod-${i % 4}` : null,
      podNamespace: known ? (i % 2 ? "shop" : "") : null,
      podUid: known ? `uid-${i % 4}` : null,
      containerName: known ? "app" : null,
      containerId: known ? `cid-${i % 4}` : null,
      metaSource: known ? (i % 2 ? "nri" : "cgroup-path") : null,
    };
  });
}

async function writeFile(dir: string, name: string, rows: OutputRow[]): Promise<string> {
  const path = join(dir, name);
  const w = new ParquetFileWriter({ path, config: CONFIG, rowGroupRows: 1000 });
  for (const r of rows) w.append(r);
  await w.close();
  return path;
}

Deno.test("rows written by the Parquet writer read back exactly, across files and row groups", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = makeRows(2500, 0), b = makeRows(300, 2500);
    const paths = [await writeFile(dir, "a.parquet", a), await writeFile(dir, "b.parquet", b)];
    const got = await readRowsFromParquet(paths);
    assert.deepEqual(got, [...a, ...b]);
    const file = await readPodperfFile(paths[0]);
    assert.equal(file.metadata["podperf.node"], "node-r");
    assert.equal(file.metadata["podperf.interval_ns"], "1000000");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a summary of rows read back agrees with DuckDB over the same file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await writeFile(dir, "s.parquet", makeRows(4000, 0));
    const mine = summarize(await readRowsFromParquet([path]), { by: "cgroup" });
    const duck = await queryParquet(
      `SELECT cgroup_id, sum(cpu_ns) AS cpu,
              CASE WHEN count(cycles) = count(*) THEN sum(cycles) END AS cycles
       FROM read_parquet('${sqlString(path)}')
       GROUP BY cgroup_id ORDER BY cpu DESC, cgroup_id`,
    );
    assert.deepEqual(
      mine.map((r) => [r.cgroupId, r.cpuNs, r.cycles]),
      duck.map((r) => [
        r.cgroup_id,
        Number(r.cpu),
        r.cycles === null ? null : Number(r.cycles),
      ]),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("files that are missing or not podperf output fail with the path named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = join(dir, "none.parquet");
    await assert.rejects(
      readRowsFromParquet([missing]),
      (e) => e instanceof ParquetReadError && e.path === missing,
    );
    const junk = join(dir, "junk.parquet");
    await Deno.writeTextFile(junk, "this is not parquet");
    await assert.rejects(
      readRowsFromParquet([junk]),
      (e) => e instanceof ParquetReadError && e.path === junk,
    );
    const other = join(dir, "other.parquet");
    await queryParquet(`COPY (SELECT 1 AS x) TO '${sqlString(other)}' (FORMAT parquet)`);
    await assert.rejects(
      readRowsFromParquet([other]),
      (e) => e instanceof ParquetReadError && /no column mono_ns/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
