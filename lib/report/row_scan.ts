/**
 * The one place the report and `summary --every` read rows: file after file, each row handed to
 * a visitor and dropped, so what a caller keeps is its own bounded aggregate. Swapping in a
 * streaming reader changes only scanPodperfFiles.
 */
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { zstdDecompressSync } from "node:zlib";
import type { CounterInfo, OutputRow } from "../output/schema.ts";
import { ParquetReadError, readPodperfFile } from "./read_parquet.ts";

/**
 * A row as the report sees it: the scheduler columns the sampler adds (`runq_delay_ns`,
 * `runq_waits`, `carried`) are null when the file has no such column, so older files read.
 */
export interface ReportRow extends Omit<OutputRow, "runqDelayNs" | "runqWaits" | "carried"> {
  runqDelayNs: number | null;
  runqWaits: number | null;
  carried: boolean | null;
}

/** What a scanned file says about itself. */
export interface ScannedFile {
  path: string;
  /** `podperf.*` key/value metadata as written */
  metadata: Record<string, string>;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC of the collector: wall ns = monoNs + this */
  wallOffsetNs: bigint;
  intervalNs: bigint;
  /** CPUs sampled (`podperf.cpus`); null in files that lack it */
  cpus: number | null;
  counters: CounterInfo[];
  rows: number;
  /** the file has `runq_delay_ns` / `carried` columns */
  hasRunq: boolean;
  hasCarried: boolean;
}

const EXTRA_COLUMNS = ["runq_delay_ns", "runq_waits", "carried"] as const;
const compressors = {
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
};

/** The column names of a Parquet file, from its footer alone. */
async function fileColumns(path: string): Promise<Set<string>> {
  const f = await Deno.open(path);
  try {
    const size = (await f.stat()).size;
    const meta = await parquetMetadataAsync({
      byteLength: size,
      async slice(start: number, end = size) {
        const b = new Uint8Array(end - start);
        await f.seek(start, Deno.SeekMode.Start);
        for (let off = 0; off < b.length;) {
          const n = await f.read(b.subarray(off));
          if (n === null) break;
          off += n;
        }
        return b.buffer;
      },
    });
    return new Set(meta.schema.map((e) => e.name));
  } finally {
    f.close();
  }
}

/** Reads the scheduler columns the row reader does not map yet. */
async function readExtraColumns(
  path: string,
  columns: string[],
): Promise<Record<string, unknown>[]> {
  const bytes = await Deno.readFile(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return await parquetReadObjects({ file, columns, compressors });
}

function parseCounters(text: string | undefined): CounterInfo[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v as CounterInfo[] : [];
  } catch {
    return [];
  }
}

/**
 * Reads podperf Parquet files one after the other and calls `visit` for every row; returns what
 * each file said about itself. Throws ParquetReadError naming the file that cannot be read.
 *
 * @example
 * const files = await scanPodperfFiles(paths, (row, file) => series.add(row, file));
 */
export async function scanPodperfFiles(
  paths: readonly string[],
  visit: (row: ReportRow, file: ScannedFile) => void,
): Promise<ScannedFile[]> {
  const out: ScannedFile[] = [];
  for (const path of paths) {
    const f = await readPodperfFile(path);
    let have: Set<string>;
    try {
      have = await fileColumns(path);
    } catch (err) {
      throw new ParquetReadError(path, (err as Error).message, { cause: err });
    }
    const present = EXTRA_COLUMNS.filter((c) => have.has(c));
    const first = f.rows[0] as object | undefined;
    // once the row reader maps the scheduler columns, rows carry them and no second read is
    // needed; the file's own schema still says whether they were measured
    const mapped = first !== undefined && "runqDelayNs" in first;
    let extra: Record<string, unknown>[] | null = null;
    if (!mapped && present.length > 0 && f.rows.length > 0) {
      try {
        extra = await readExtraColumns(path, present);
      } catch (err) {
        throw new ParquetReadError(path, (err as Error).message, { cause: err });
      }
    }
    const md = f.metadata;
    const file: ScannedFile = {
      path,
      metadata: md,
      wallOffsetNs: BigInt(md["podperf.mono_to_wall_offset_ns"] ?? "0"),
      intervalNs: BigInt(md["podperf.interval_ns"] ?? "1000000"),
      cpus: md["podperf.cpus"] ? Number(md["podperf.cpus"]) : null,
      counters: parseCounters(md["podperf.counters"]),
      rows: f.rows.length,
      hasRunq: have.has("runq_delay_ns"),
      hasCarried: have.has("carried"),
    };
    out.push(file);
    for (let i = 0; i < f.rows.length; i++) {
      const e = extra?.[i];
      const row = f.rows[i] as unknown as ReportRow;
      if (!mapped) {
        row.runqDelayNs = e?.runq_delay_ns === undefined ? null : Number(e.runq_delay_ns);
        row.runqWaits = e?.runq_waits === undefined ? null : Number(e.runq_waits);
        row.carried = e?.carried === undefined ? null : Boolean(e.carried);
      } else {
        // a reader may fill columns an older file lacks: what was not measured is null here
        if (!file.hasRunq) row.runqDelayNs = row.runqWaits = null;
        if (!file.hasCarried) row.carried = null;
      }
      visit(row, file);
    }
  }
  return out;
}
