/**
 * The one place the report and `summary --every` read rows: file after file, each row handed to
 * a visitor and dropped, so what a caller keeps is its own bounded aggregate. Swapping in a
 * streaming reader changes only scanPodperfFiles.
 */
import { parquetMetadata, parquetReadObjects } from "hyparquet";
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

/** Reads the scheduler columns the row reader does not map yet; empty when the file lacks them. */
async function readExtraColumns(path: string): Promise<Record<string, unknown>[] | null> {
  const bytes = await Deno.readFile(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const meta = parquetMetadata(file);
  const have = new Set(meta.schema.map((e) => e.name));
  const columns = EXTRA_COLUMNS.filter((c) => have.has(c));
  if (columns.length === 0) return null;
  return await parquetReadObjects({ file, metadata: meta, columns, compressors });
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
    const first = f.rows[0] as object | undefined;
    // once the row reader maps the scheduler columns, rows carry them and no second read is needed
    const mapped = first !== undefined && "runqDelayNs" in first;
    let extra: Record<string, unknown>[] | null = null;
    if (!mapped && f.rows.length > 0) {
      try {
        extra = await readExtraColumns(path);
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
      hasRunq: mapped || (extra !== null && extra.length > 0 && "runq_delay_ns" in extra[0]),
      hasCarried: mapped || (extra !== null && extra.length > 0 && "carried" in extra[0]),
    };
    out.push(file);
    for (let i = 0; i < f.rows.length; i++) {
      const e = extra?.[i];
      const row = f.rows[i] as unknown as ReportRow;
      if (!mapped) {
        row.runqDelayNs = e?.runq_delay_ns === undefined ? null : Number(e.runq_delay_ns);
        row.runqWaits = e?.runq_waits === undefined ? null : Number(e.runq_waits);
        row.carried = e?.carried === undefined ? null : Boolean(e.carried);
      }
      visit(row, file);
    }
  }
  return out;
}
