/** Reads podperf Parquet files back into OutputRows (pure JS: hyparquet + node:zlib ZSTD). */
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { zstdDecompressSync } from "node:zlib";
import { type MetaSource, type OutputRow, PARQUET_SCHEMA } from "../output/schema.ts";
import { COUNTERS } from "../sampler/counter_table.ts";

/** A file could not be read as podperf Parquet output. */
export class ParquetReadError extends Error {
  override name = "ParquetReadError";
  constructor(readonly path: string, message: string, options?: ErrorOptions) {
    super(`cannot read ${path}: ${message}`, options);
  }
}

// the columns an OutputRow is made of; ts, node and interval_ns are per-file facts
const PER_FILE = new Set(["root", "ts", "node", "interval_ns"]);
const COLUMNS = PARQUET_SCHEMA.map((e) => e.name).filter((n) => !PER_FILE.has(n));
// columns added after the first release: older files lack them and read as 0 / false
const ADDED_LATER = new Set(["runq_delay_ns", "runq_waits", "carried"]);

const compressors = {
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
};

const num = (v: unknown): number | null => v === null || v === undefined ? null : Number(v);
const big = (v: unknown): bigint => typeof v === "bigint" ? v : BigInt(v as number);

/** One podperf file: its rows and its `podperf.*` key/value metadata. */
export interface PodperfFile {
  path: string;
  rows: OutputRow[];
  /** file key/value metadata (`podperf.interval_ns`, `podperf.node`, …) */
  metadata: Record<string, string>;
}

/** Reads one podperf Parquet file; throws ParquetReadError naming the file on any failure. */
export async function readPodperfFile(path: string): Promise<PodperfFile> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new ParquetReadError(path, (err as Error).message, { cause: err });
  }
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  try {
    const meta = parquetMetadata(file);
    const have = new Set(meta.schema.map((e) => e.name));
    const missing = COLUMNS.filter((c) => !have.has(c) && !ADDED_LATER.has(c));
    if (missing.length > 0) {
      throw new ParquetReadError(path, `not podperf output: no column ${missing.join(", ")}`);
    }
    const objects = await parquetReadObjects({
      file,
      metadata: meta,
      columns: COLUMNS.filter((c) => have.has(c)),
      compressors,
    });
    const rows = objects.map((o): OutputRow => {
      const row = {
        monoNs: big(o.mono_ns),
        tgid: o.pid,
        comm: o.comm,
        cgroupId: big(o.cgroup_id),
        cpuNs: Number(o.cpu_ns),
        runqDelayNs: Number(o.runq_delay_ns ?? 0),
        runqWaits: o.runq_waits ?? 0,
        scaled: o.scaled,
        carried: o.carried ?? false,
        records: o.records,
        podName: o.pod_name ?? null,
        podNamespace: o.pod_namespace ?? null,
        podUid: o.pod_uid ?? null,
        containerName: o.container_name ?? null,
        containerId: o.container_id ?? null,
        metaSource: (o.meta_source ?? null) as MetaSource | null,
      } as OutputRow;
      for (const c of COUNTERS) row[c.field] = num(o[c.name]);
      return row;
    });
    const metadata: Record<string, string> = {};
    for (const kv of meta.key_value_metadata ?? []) {
      if (kv.value !== undefined) metadata[kv.key] = kv.value;
    }
    return { path, rows, metadata };
  } catch (err) {
    if (err instanceof ParquetReadError) throw err;
    throw new ParquetReadError(path, (err as Error).message, { cause: err });
  }
}

/** Reads the rows of several podperf Parquet files, in file order. */
export async function readRowsFromParquet(paths: readonly string[]): Promise<OutputRow[]> {
  const rows: OutputRow[] = [];
  for (const p of paths) {
    for (const r of (await readPodperfFile(p)).rows) rows.push(r);
  }
  return rows;
}
