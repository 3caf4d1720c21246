/**
 * Reads podperf Parquet files back (pure JS: hyparquet + node:zlib ZSTD), one row group at a
 * time: memory follows the row group size, not the file or input size. Row groups outside a
 * wall-clock window are skipped by their `ts` statistics without reading their columns.
 */
import { type FileMetaData, parquetMetadataAsync, parquetScan } from "hyparquet";
import { zstdDecompressSync } from "node:zlib";
import { type MetaSource, type OutputRow, PARQUET_SCHEMA } from "../output/schema.ts";
import { COUNTERS } from "../sampler/counter_table.ts";
import { type InputSource, localSource, type SourceBuffer } from "./inputs.ts";

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
// without these a file is not podperf output; other columns may be absent in older files
const CORE = ["mono_ns", "pid", "comm", "cgroup_id", "cpu_ns"];

const compressors = {
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
};
// keep ns timestamps (statistics of `ts`) exact instead of Dates
const parsers = { timestampFromNanoseconds: (n: bigint) => n };

const num = (v: unknown): number | null => v === null || v === undefined ? null : Number(v);
const big = (v: unknown): bigint => typeof v === "bigint" ? v : BigInt(v as number);

/** Builds an OutputRow from one row's column values (absent columns are undefined). */
function rowFromObject(o: Record<string, unknown>): OutputRow {
  const row = {
    monoNs: big(o.mono_ns),
    tgid: o.pid as number,
    comm: o.comm as string,
    cgroupId: big(o.cgroup_id),
    cpuNs: Number(o.cpu_ns),
    // added with issue 12: older files lack them and read as 0 / false
    runqDelayNs: Number(o.runq_delay_ns ?? 0),
    runqWaits: (o.runq_waits as number) ?? 0,
    scaled: Boolean(o.scaled),
    carried: Boolean(o.carried ?? false),
    records: (o.records as number) ?? 0,
    podName: (o.pod_name as string) ?? null,
    podNamespace: (o.pod_namespace as string) ?? null,
    podUid: (o.pod_uid as string) ?? null,
    containerName: (o.container_name as string) ?? null,
    containerId: (o.container_id as string) ?? null,
    metaSource: (o.meta_source ?? null) as MetaSource | null,
  } as OutputRow;
  // one column per entry of the counter table
  for (const c of COUNTERS) row[c.field] = num(o[c.name]);
  return row;
}

/** One podperf file: its rows and its `podperf.*` key/value metadata. */
export interface PodperfFile {
  path: string;
  rows: OutputRow[];
  /** file key/value metadata (`podperf.interval_ns`, `podperf.node`, …) */
  metadata: Record<string, string>;
}

/** What a file says about all its rows. */
export interface FileFacts {
  name: string;
  metadata: Record<string, string>;
  /** `podperf.node` ("" when absent) */
  node: string;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC of the run that wrote it: wall = mono + offset */
  monoToWallOffsetNs: bigint;
  intervalNs: bigint | null;
  cpus: number | null;
  rows: number;
}

/** Options of scanPodperf(). */
export interface ScanOptions {
  /** wall-clock window, ns since the epoch; row groups entirely outside are not read */
  fromWallNs?: bigint;
  toWallNs?: bigint;
  /** called once per file before its row groups */
  onFile?: (facts: FileFacts) => void;
  /** columns to read (default: every OutputRow column the file has) */
  columns?: readonly string[];
}

/** What a scan skipped and read, for benchmarks and tests. */
export interface ScanCounts {
  rowGroupsRead: number;
  rowGroupsSkipped: number;
}

function factsOf(name: string, meta: FileMetaData): FileFacts {
  const kv: Record<string, string> = {};
  for (const e of meta.key_value_metadata ?? []) if (e.value !== undefined) kv[e.key] = e.value;
  return {
    name,
    metadata: kv,
    node: kv["podperf.node"] ?? "",
    monoToWallOffsetNs: BigInt(kv["podperf.mono_to_wall_offset_ns"] ?? "0"),
    intervalNs: kv["podperf.interval_ns"] ? BigInt(kv["podperf.interval_ns"]) : null,
    cpus: kv["podperf.cpus"] ? Number(kv["podperf.cpus"]) : null,
    rows: Number(meta.num_rows),
  };
}

const asBig = (v: unknown): bigint | null =>
  typeof v === "bigint" ? v : typeof v === "number" ? BigInt(Math.trunc(v)) : null;

/** One row group's columns, by name; a column the file lacks is absent. */
export interface ColumnBatch {
  rows: number;
  columns: Map<string, ArrayLike<unknown>>;
}

/**
 * Yields the rows of one file a row group at a time (each batch ≤ one row group). Throws
 * ParquetReadError naming the file on any failure.
 */
export async function* scanPodperf(
  source: InputSource,
  opts: ScanOptions = {},
  counts?: ScanCounts,
): AsyncGenerator<OutputRow[], void> {
  for await (const b of scanPodperfColumns(source, opts, counts)) {
    const names = [...b.columns.keys()], data = [...b.columns.values()];
    const rows = new Array<OutputRow>(b.rows);
    const o: Record<string, unknown> = {};
    for (let i = 0; i < b.rows; i++) {
      for (let c = 0; c < names.length; c++) o[names[c]] = data[c][i];
      rows[i] = rowFromObject(o);
    }
    yield rows;
  }
}

/**
 * The columnar form of scanPodperf(): one row group's column arrays at a time, for readers
 * that fold values without making a row object each (summary).
 */
export async function* scanPodperfColumns(
  source: InputSource,
  opts: ScanOptions = {},
  counts?: ScanCounts,
): AsyncGenerator<ColumnBatch, void> {
  let file: SourceBuffer;
  try {
    file = await source.open();
  } catch (err) {
    throw new ParquetReadError(source.name, (err as Error).message, { cause: err });
  }
  try {
    let meta: FileMetaData;
    try {
      meta = await parquetMetadataAsync(file, { parsers });
    } catch (err) {
      throw new ParquetReadError(source.name, (err as Error).message, { cause: err });
    }
    const have = new Set(meta.schema.map((e) => e.name));
    const missing = CORE.filter((c) => !have.has(c));
    if (missing.length > 0) {
      throw new ParquetReadError(
        source.name,
        `not podperf output: no column ${missing.join(", ")}`,
      );
    }
    const facts = factsOf(source.name, meta);
    opts.onFile?.(facts);
    // the file's own columns drive the read: older files lack newer columns
    const columns = (opts.columns ?? COLUMNS).filter((c) => have.has(c));
    const tsIndex = meta.schema.slice(1).findIndex((e) => e.name === "ts");
    let scan;
    try {
      scan = await parquetScan({ file, metadata: meta, columns, compressors, parsers });
    } catch (err) {
      throw new ParquetReadError(source.name, (err as Error).message, { cause: err });
    }
    let start = 0;
    for (const rg of meta.row_groups) {
      const n = Number(rg.num_rows);
      const rowStart = start;
      start += n;
      if (n === 0) continue;
      const st = tsIndex >= 0 ? rg.columns[tsIndex]?.meta_data?.statistics : undefined;
      const lo = asBig(st?.min_value ?? st?.min), hi = asBig(st?.max_value ?? st?.max);
      if (
        (opts.fromWallNs !== undefined && hi !== null && hi < opts.fromWallNs) ||
        (opts.toWallNs !== undefined && lo !== null && lo >= opts.toWallNs)
      ) {
        if (counts) counts.rowGroupsSkipped++;
        continue;
      }
      if (counts) counts.rowGroupsRead++;
      let data: ArrayLike<unknown>[];
      try {
        // one ranged read for the row group's chunks instead of one per column (S3 latency)
        if (file.prefetch) {
          let lo = Infinity, hi = 0;
          for (const cc of rg.columns) {
            const md = cc.meta_data;
            if (!md || !columns.includes(md.path_in_schema[0])) continue;
            const at = Number(md.dictionary_page_offset ?? md.data_page_offset);
            lo = Math.min(lo, at);
            hi = Math.max(hi, at + Number(md.total_compressed_size));
          }
          if (hi > lo) await file.prefetch(lo, hi);
        }
        data = await Promise.all(
          columns.map((column) => scan.readColumn({ column, rowStart, rowEnd: rowStart + n })),
        );
      } catch (err) {
        throw new ParquetReadError(source.name, (err as Error).message, { cause: err });
      }
      yield { rows: n, columns: new Map(columns.map((c, i) => [c, data[i]])) };
    }
  } finally {
    file.close();
  }
}

/** Reads a whole podperf Parquet file; throws ParquetReadError naming the file on any failure. */
export async function readPodperfFile(path: string): Promise<PodperfFile> {
  let source: InputSource;
  try {
    source = await localSource(path);
  } catch (err) {
    throw new ParquetReadError(path, (err as Error).message, { cause: err });
  }
  const rows: OutputRow[] = [];
  let metadata: Record<string, string> = {};
  for await (
    const batch of scanPodperf(source, { onFile: (f) => (metadata = f.metadata) })
  ) {
    for (const r of batch) rows.push(r);
  }
  return { path, rows, metadata };
}

/** Reads the rows of several podperf Parquet files, in file order. */
export async function readRowsFromParquet(paths: readonly string[]): Promise<OutputRow[]> {
  const rows: OutputRow[] = [];
  for (const p of paths) {
    for (const r of (await readPodperfFile(p)).rows) rows.push(r);
  }
  return rows;
}
