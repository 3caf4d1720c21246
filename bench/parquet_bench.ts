/**
 * Parquet writer benchmark on podperf's own schema: each candidate writes the same synthetic
 * rows in its own subprocess (so peak RSS is its own), rounds interleaved, then DuckDB reads
 * the file back to check row count, column types and a u64 ≥ 2^63 cgroup id.
 *
 * `podperf` is lib/output's ParquetFileWriter fed 1000-row batches as collect feeds it;
 * `hyparquet-writer ParquetWriter` is the
 * library's own column API fed the way lib/output fed it before it encoded typed arrays
 * itself, kept as the before/after reference. Several `--rows` values show peak RSS against
 * rows per file.
 *
 * Run: deno run -A bench/parquet_bench.ts [--rows=100000,1000000,3000000] [--rounds=3]
 *        [--only=podperf,hyparquet-writer ParquetWriter]
 */
import { join } from "node:path";
import type { SchemaElement } from "hyparquet";
import type { ColumnSource } from "hyparquet-writer";
import type { FileConfig, OutputRow } from "../lib/output/schema.ts";

/** Candidates in the order each round runs them. */
export const CANDIDATES = [
  "podperf",
  "hyparquet-writer ParquetWriter",
  "@dsnp/parquetjs",
  "duckdb-appender",
  "parquet-wasm",
];

// the module each candidate loads, timed separately from writing
const MODULES: Record<string, string> = {
  "podperf": "../lib/output/parquet_writer.ts",
  "hyparquet-writer ParquetWriter": "hyparquet-writer",
  "@dsnp/parquetjs": "@dsnp/parquetjs",
  "duckdb-appender": "@duckdb/node-api",
  "parquet-wasm": "parquet-wasm",
};

const CONFIG: FileConfig = {
  version: "bench",
  node: "bench-node",
  intervalNs: 1_000_000n,
  monoToWallOffsetNs: 1_700_000_000_123_456_789n,
  cpus: 2,
  counters: [],
};
const PROCS = 40;
const BIG_CGROUP = 2n ** 63n + 5n;

// A busy node: 40 processes per 1 ms slot in 15 cgroups, two thirds of them in pods, no PMU.
function makeRow(i: number, bigCgroup: boolean): OutputRow {
  const p = i % PROCS;
  const inPod = p % 3 !== 0;
  const h = Math.imul(i, 2654435761) >>> 0;
  return {
    monoNs: 10_000_000_000n + BigInt(Math.floor(i / PROCS)) * 1_000_000n,
    tgid: 1000 + p * 7,
    comm: `proc-${p}`,
    cgroupId: bigCgroup && p === 1 ? BIG_CGROUP : 4026531835n + BigInt(p % 15),
    cpuNs: h % 1_000_000,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: h % 7,
    contextSwitches: h % 3,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1 + (h % 5),
    podName: inPod ? `web-${p % 5}-7d9f8c` : null,
    podNamespace: inPod ? "default" : null,
    podUid: inPod ? `0b1c2d3e-0000-4000-8000-00000000000${p % 5}` : null,
    containerName: inPod ? "app" : null,
    containerId: inPod ? `c0ffee${p % 5}`.padEnd(64, "0") : null,
    metaSource: inPod ? "nri" : null,
  };
}

type Writer = (path: string, rows: number, bigCgroup: boolean) => Promise<void>;

const WRITERS: Record<string, Writer> = {
  async "podperf"(path, rows, big) {
    // as the collector's rows reach it: batches packed into typed arrays (in collect the
    // packing is on the loop and appendBatch in the writer Worker; here both in one thread)
    const { ParquetFileWriter } = await import("../lib/output/parquet_writer.ts");
    const { packRows } = await import("../lib/output/row_batch.ts");
    const w = new ParquetFileWriter({ path, config: CONFIG });
    for (let i = 0; i < rows; i += 1000) {
      const batch = [];
      for (let k = i; k < Math.min(rows, i + 1000); k++) batch.push(makeRow(k, big));
      w.appendBatch(packRows(batch).batch);
    }
    await w.close();
  },

  async "hyparquet-writer ParquetWriter"(path, rows, big) {
    const { ByteWriter, ParquetWriter } = await import("hyparquet-writer");
    const { constants, zstdCompressSync } = await import("node:zlib");
    const { PARQUET_SCHEMA, fileMetadata } = await import("../lib/output/schema.ts");
    const file = Deno.openSync(path, { write: true, create: true, truncate: true });
    const out = new ByteWriter(1 << 20);
    const drain = () => {
      const bytes = new Uint8Array(out.buffer, 0, out.index);
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
      out.index = 0;
    };
    const params = { [constants.ZSTD_c_compressionLevel]: 3 };
    const w = new ParquetWriter({
      writer: out,
      schema: PARQUET_SCHEMA as SchemaElement[],
      codec: "ZSTD",
      compressors: { ZSTD: (b) => zstdCompressSync(b, { params }) },
    });
    const group: OutputRow[] = [];
    const flush = () => {
      w.write({ columnData: hyparquetColumns(group), rowGroupSize: group.length });
      drain();
      group.length = 0;
    };
    for (let i = 0; i < rows; i++) {
      group.push(makeRow(i, big));
      if (group.length === 16_384) flush();
    }
    if (group.length) flush();
    w.kvMetadata = fileMetadata(CONFIG, {
      rows,
      knownCpuNs: 0,
      unknownCpuNs: 0,
      knownCycles: 0,
      unknownCycles: 0,
    });
    w.finish();
    drain();
    file.close();
  },

  async "@dsnp/parquetjs"(path, rows, big) {
    const { ParquetSchema, ParquetWriter } = await import("@dsnp/parquetjs");
    const c = "SNAPPY" as const; // its best codec here: no ZSTD
    const str = { type: "UTF8", compression: c } as const;
    const opt = { type: "UTF8", optional: true, compression: c } as const;
    const i64 = { type: "INT64", compression: c } as const;
    const schema = new ParquetSchema({
      ts: { type: "TIMESTAMP_MICROS", compression: c }, // no nanosecond type exists
      mono_ns: i64,
      interval_ns: i64,
      node: str,
      pid: { type: "INT32", compression: c },
      comm: str,
      cgroup_id: { type: "UINT_64", compression: c },
      cpu_ns: i64,
      cycles: { ...i64, optional: true },
      instructions: { ...i64, optional: true },
      llc_misses: { ...i64, optional: true },
      page_faults: { ...i64, optional: true },
      context_switches: { ...i64, optional: true },
      scaled: { type: "BOOLEAN", compression: c },
      records: { type: "INT32", compression: c },
      pod_name: opt,
      pod_namespace: opt,
      pod_uid: opt,
      container_name: opt,
      container_id: opt,
      meta_source: opt,
    });
    const w = await ParquetWriter.openFile(schema, path, { rowGroupSize: 16_384 });
    const big64 = (v: number | null) => v === null ? undefined : BigInt(v);
    const s = (v: string | null) => v ?? undefined;
    for (let i = 0; i < rows; i++) {
      const r = makeRow(i, big);
      await w.appendRow({
        ts: (r.monoNs + CONFIG.monoToWallOffsetNs) / 1000n,
        mono_ns: r.monoNs,
        interval_ns: CONFIG.intervalNs,
        node: CONFIG.node,
        pid: r.tgid,
        comm: r.comm,
        cgroup_id: r.cgroupId,
        cpu_ns: BigInt(r.cpuNs),
        cycles: big64(r.cycles),
        instructions: big64(r.instructions),
        llc_misses: big64(r.llcMisses),
        page_faults: big64(r.pageFaults),
        context_switches: big64(r.contextSwitches),
        scaled: r.scaled,
        records: r.records,
        pod_name: s(r.podName),
        pod_namespace: s(r.podNamespace),
        pod_uid: s(r.podUid),
        container_name: s(r.containerName),
        container_id: s(r.containerId),
        meta_source: s(r.metaSource),
      });
    }
    await w.close();
  },

  async "duckdb-appender"(path, rows, big) {
    const { DuckDBInstance, DuckDBTimestampNanosecondsValue } = await import("@duckdb/node-api");
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    await conn.run(`CREATE TABLE t (ts TIMESTAMP_NS, mono_ns BIGINT, interval_ns BIGINT,
      node VARCHAR, pid INTEGER, comm VARCHAR, cgroup_id UBIGINT, cpu_ns BIGINT, cycles BIGINT,
      instructions BIGINT, llc_misses BIGINT, page_faults BIGINT, context_switches BIGINT,
      scaled BOOLEAN, records INTEGER, pod_name VARCHAR, pod_namespace VARCHAR, pod_uid VARCHAR,
      container_name VARCHAR, container_id VARCHAR, meta_source VARCHAR)`);
    const a = await conn.createAppender("t");
    const n = (v: number | null) => v === null ? a.appendNull() : a.appendBigInt(BigInt(v));
    const s = (v: string | null) => v === null ? a.appendNull() : a.appendVarchar(v);
    for (let i = 0; i < rows; i++) {
      const r = makeRow(i, big);
      a.appendTimestampNanoseconds(
        new DuckDBTimestampNanosecondsValue(r.monoNs + CONFIG.monoToWallOffsetNs),
      );
      a.appendBigInt(r.monoNs);
      a.appendBigInt(CONFIG.intervalNs);
      a.appendVarchar(CONFIG.node);
      a.appendInteger(r.tgid);
      a.appendVarchar(r.comm);
      a.appendUBigInt(r.cgroupId);
      a.appendBigInt(BigInt(r.cpuNs));
      n(r.cycles);
      n(r.instructions);
      n(r.llcMisses);
      n(r.pageFaults);
      n(r.contextSwitches);
      a.appendBoolean(r.scaled);
      a.appendInteger(r.records);
      s(r.podName);
      s(r.podNamespace);
      s(r.podUid);
      s(r.containerName);
      s(r.containerId);
      s(r.metaSource);
      a.endRow();
    }
    a.closeSync();
    await conn.run(
      `COPY t TO '${path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384)`,
    );
    conn.closeSync();
  },

  async "parquet-wasm"() {
    // parquet-wasm writes only from an Arrow table given as IPC bytes; producing those needs an
    // Arrow builder (apache-arrow), which is not a dependency of podperf.
    try {
      await import(["apache", "arrow"].join("-"));
    } catch {
      throw new Error("needs an Arrow IPC producer (apache-arrow is not installed)");
    }
    throw new Error("apache-arrow present but the Arrow path is not implemented");
  },
};

// Column data as lib/output built it for hyparquet-writer until it encoded typed arrays itself:
// one JS value per cell, strings left to the library's dictionary.
function hyparquetColumns(rows: OutputRow[]): ColumnSource[] {
  const n = rows.length;
  const big = (f: (r: OutputRow) => number | null) =>
    rows.map((r) => {
      const v = f(r);
      return v === null ? null : BigInt(Math.round(v));
    });
  const str = (name: string, f: (r: OutputRow) => string | null): ColumnSource => ({
    name,
    data: rows.map(f),
    encoding: "RLE_DICTIONARY",
  });
  return [
    { name: "ts", data: BigInt64Array.from(rows, (r) => r.monoNs + CONFIG.monoToWallOffsetNs) },
    { name: "mono_ns", data: BigInt64Array.from(rows, (r) => r.monoNs) },
    { name: "interval_ns", data: new BigInt64Array(n).fill(CONFIG.intervalNs) },
    str("node", () => CONFIG.node),
    { name: "pid", data: Int32Array.from(rows, (r) => r.tgid) },
    str("comm", (r) => r.comm),
    { name: "cgroup_id", data: BigUint64Array.from(rows, (r) => r.cgroupId) },
    { name: "cpu_ns", data: BigInt64Array.from(rows, (r) => BigInt(Math.round(r.cpuNs))) },
    { name: "cycles", data: big((r) => r.cycles) },
    { name: "instructions", data: big((r) => r.instructions) },
    { name: "llc_misses", data: big((r) => r.llcMisses) },
    { name: "page_faults", data: big((r) => r.pageFaults) },
    { name: "context_switches", data: big((r) => r.contextSwitches) },
    { name: "scaled", data: rows.map((r) => r.scaled) },
    { name: "records", data: Int32Array.from(rows, (r) => r.records) },
    str("pod_name", (r) => r.podName),
    str("pod_namespace", (r) => r.podNamespace),
    str("pod_uid", (r) => r.podUid),
    str("container_name", (r) => r.containerName),
    str("container_id", (r) => r.containerId),
    str("meta_source", (r) => r.metaSource),
  ];
}

function peakRssBytes(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}

// Runs one candidate inside this (child) process and prints one JSON line.
async function child(name: string, rows: number, dir: string): Promise<void> {
  const path = join(dir, "bench.parquet");
  const tImport = performance.now();
  await import(MODULES[name]);
  const importMs = performance.now() - tImport;
  const t0 = performance.now();
  let error: string | undefined;
  try {
    await WRITERS[name](path, rows, false);
  } catch (err) {
    error = String(err).split("\n")[0];
  }
  const ms = performance.now() - t0;
  const rss = peakRssBytes();
  const bytes = error ? 0 : Deno.statSync(path).size;
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const conn = await (await DuckDBInstance.create(":memory:")).connect();
  let types = "";
  if (!error) {
    const r = (await conn.runAndReadAll(
      `SELECT count(*)::VARCHAR AS n, typeof(any_value(ts)) AS ts, typeof(any_value(cgroup_id)) AS cg
         FROM read_parquet('${path}')`,
    )).getRowObjects()[0];
    types = `${r.n} rows; ts ${r.ts}; cgroup_id ${r.cg}`;
  }
  // fidelity: a small file with a cgroup id ≥ 2^63, read back by DuckDB
  let u64: string;
  try {
    const small = join(dir, "u64.parquet");
    await WRITERS[name](small, PROCS, true);
    const r = (await conn.runAndReadAll(
      `SELECT max(cgroup_id)::VARCHAR AS m FROM read_parquet('${small}')`,
    )).getRowObjects()[0];
    u64 = r.m === BIG_CGROUP.toString() ? "ok" : `wrong (${r.m})`;
  } catch (err) {
    u64 = `fails: ${String(err).split("\n")[0].slice(0, 80)}`;
  }
  console.log(JSON.stringify({ name, importMs, ms, bytes, rss, error, types, u64 }));
}

interface Run {
  name: string;
  importMs: number;
  types: string;
  ms: number;
  bytes: number;
  rss: number;
  error?: string;
  u64: string;
}

/**
 * Benchmarks every candidate writer on `rows` rows, `rounds` interleaved rounds, each run in
 * its own subprocess. Returns one summary row per candidate (median time, max peak RSS).
 */
export async function benchParquet(
  opts: { rows?: number | number[]; rounds?: number; only?: string[] } = {},
): Promise<Record<string, unknown>[]> {
  const table: Record<string, unknown>[] = [];
  const counts = Array.isArray(opts.rows) ? opts.rows : [opts.rows ?? 1_000_000];
  for (const rows of counts) {
    table.push(...await benchRows(rows, opts.rounds ?? 3, opts.only ?? CANDIDATES));
  }
  return table;
}

async function benchRows(
  rows: number,
  rounds: number,
  candidates: string[],
): Promise<Record<string, unknown>[]> {
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const name of candidates) {
      const dir = await Deno.makeTempDir({ prefix: "parquet-bench-" });
      try {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL(import.meta.url).pathname,
            `--child=${name}`,
            `--rows=${rows}`,
            `--dir=${dir}`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
        try {
          runs.push(JSON.parse(line));
        } catch {
          const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
          runs.push({
            name,
            ms: NaN,
            bytes: 0,
            rss: NaN,
            error: `exit ${out.code}: ${err}`,
            u64: "",
            importMs: NaN,
            types: "",
          });
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  return candidates.map((name) => {
    const mine = runs.filter((r) => r.name === name);
    const ok = mine.filter((r) => !r.error);
    if (ok.length === 0) {
      return { writer: name, rows, error: mine[0]?.error };
    }
    const ms = ok.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(ok.length / 2)];
    return {
      writer: name,
      rows,
      runs: ok.length,
      rows_per_s: Math.round(rows / (ms / 1000)),
      ms_median: Math.round(ms),
      ms_all: ok.map((r) => Math.round(r.ms)).join("/"),
      bytes_per_row: +(ok[0].bytes / rows).toFixed(2),
      file_mb: +(ok[0].bytes / 1e6).toFixed(2),
      peak_rss_mb: Math.round(Math.max(...ok.map((r) => r.rss)) / 2 ** 20),
      import_ms: Math.round(ok[0].importMs),
      read_back: ok[0].types,
      u64_ge_2p63: ok[0].u64,
    };
  });
}

if (import.meta.main) {
  const arg = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
  const name = arg("child");
  if (name) {
    await child(name, Number(arg("rows")), arg("dir")!);
  } else {
    console.table(
      await benchParquet({
        rows: (arg("rows") ?? "1000000").split(",").map(Number),
        rounds: Number(arg("rounds") ?? 3),
        only: arg("only")?.split(","),
      }),
    );
  }
}
