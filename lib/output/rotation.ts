/**
 * A stream of Parquet files: rows go to the current file, which is completed and a new one
 * started when it reaches a size or an age.
 */
import { join } from "node:path";
import { log } from "../log.ts";
import {
  OutputClosedError,
  OutputConfigError,
  OutputWriteError,
  writeErrorFrom,
} from "./errors.ts";
import { type ClosedFileInfo, ParquetFileWriter } from "./parquet_writer.ts";
import type { FileConfig, OutputRow } from "./schema.ts";

/** Options of a RotatingParquetWriter. */
export interface RotatingOptions {
  /** existing directory the files go to */
  dir: string;
  /** file name prefix, by convention `podperf-<node>` */
  prefix: string;
  /** a file is completed once its encoded size reaches this; it may exceed it by a row group */
  maxBytes: number;
  /**
   * a file is completed by the first append(), appendMany() batch or rotateIfDue() this long
   * after it was opened
   */
  maxAgeMs: number;
  /** rows per row group */
  rowGroupRows?: number;
  /** estimated uncompressed bytes after which a row group is flushed early */
  rowGroupBytes?: number;
  /** ZSTD level */
  zstdLevel?: number;
  /** node, version, clock offset and counters: constant for every file */
  metadata: FileConfig;
  /** called after each file is complete under its final name */
  onFileClosed?: (info: ClosedFileInfo) => void;
}

/** File name of the `seq`-th file opened at `openedAt` (ms since the epoch). */
export function fileName(prefix: string, openedAt: number, seq: number): string {
  // 2024-05-01T12:00:00.123Z → 20240501T120000.123Z: sortable and free of colons
  const stamp = new Date(openedAt).toISOString().replaceAll("-", "").replaceAll(":", "");
  return `${prefix}-${stamp}-${String(seq).padStart(4, "0")}.parquet`;
}

/**
 * Writes rows to a series of Parquet files, each complete (footer written, fsync'd) before it
 * appears under its final name `<prefix>-<UTC time>-<seq>.parquet`; until then it is
 * `.<name>.parquet.tmp`.
 *
 * Counting: `rowsWritten` counts only rows inside completed files, so it lags appends by the
 * current file until that file rotates or close() resolves. A write failure (ENOSPC, EIO…)
 * throws OutputWriteError from the call that hit it, removes the incomplete file and adds its
 * rows to `rowsLost`; the next append starts a new file.
 *
 * @example
 * const out = new RotatingParquetWriter({ dir, prefix: "podperf-n1", maxBytes: 64 << 20,
 *   maxAgeMs: 600_000, metadata, onFileClosed: (f) => log.info("parquet file", f) });
 * out.appendMany(rows);
 * await out.close();
 */
export class RotatingParquetWriter {
  /** rows in completed files */
  rowsWritten = 0;
  /** rows appended to files that failed and were removed */
  rowsLost = 0;
  /** completed files */
  filesWritten = 0;
  readonly #opts: RotatingOptions;
  #current: ParquetFileWriter | null = null;
  #openedAt = 0;
  #seq = 0;
  #closed = false;

  constructor(opts: RotatingOptions) {
    if (!(opts.maxBytes > 0)) {
      throw new OutputConfigError("maxBytes", `maxBytes must be > 0, got ${opts.maxBytes}`);
    }
    if (!(opts.maxAgeMs > 0)) {
      throw new OutputConfigError("maxAgeMs", `maxAgeMs must be > 0, got ${opts.maxAgeMs}`);
    }
    let isDir = false;
    try {
      isDir = Deno.statSync(opts.dir).isDirectory;
    } catch { /* reported below */ }
    if (!isDir) throw new OutputConfigError("dir", `output directory ${opts.dir} does not exist`);
    this.#opts = opts;
    removeStaleTmpFiles(opts.dir, opts.prefix);
  }

  /** Rows appended to the current file that are not yet in a completed file. */
  get rowsPending(): number {
    return this.#current?.rows ?? 0;
  }

  /** Final path of the file being written, or null between files. */
  get currentPath(): string | null {
    return this.#current?.path ?? null;
  }

  /** Adds one row; may complete the current file (size or age) and start another. */
  append(row: OutputRow): void {
    this.#add(row);
    this.rotateIfDue();
  }

  /**
   * Adds rows in order, checking the file's age once after the batch (its rows arrived
   * together). At the first failure it stops, adds the rows it did not get to to `rowsLost`
   * (so written + lost still equals appended) and throws that failure.
   */
  appendMany(rows: Iterable<OutputRow>): void {
    if (Array.isArray(rows)) {
      // the collector's batches are arrays: no iterator object per call
      for (let i = 0; i < rows.length; i++) {
        try {
          this.#add(rows[i]);
        } catch (err) {
          this.rowsLost += rows.length - i - 1;
          throw err;
        }
      }
    } else {
      const it = rows[Symbol.iterator]();
      for (let r = it.next(); !r.done; r = it.next()) {
        try {
          this.#add(r.value);
        } catch (err) {
          for (r = it.next(); !r.done; r = it.next()) this.rowsLost++;
          throw err;
        }
      }
    }
    this.rotateIfDue();
  }

  /** Completes the current file if it is older than maxAgeMs; for callers with idle periods. */
  rotateIfDue(): void {
    const file = this.#current;
    if (file && Date.now() - this.#openedAt >= this.#opts.maxAgeMs) this.#finish(file);
  }

  /** Completes the current file now, whatever its size or age. */
  // deno-lint-ignore require-await -- async so a failure is a rejection
  async rotate(): Promise<void> {
    if (this.#current) this.#finish(this.#current);
  }

  /** Completes the current file; afterwards rowsWritten counts every row that reached disk. */
  // deno-lint-ignore require-await -- async so a failure is a rejection
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#current) this.#finish(this.#current);
  }

  // One row into the current file (opened on demand); completes the file when it is full.
  #add(row: OutputRow): void {
    if (this.#closed) throw new OutputClosedError(this.#opts.dir);
    const file = this.#current ?? this.#open();
    try {
      file.append(row);
    } catch (err) {
      this.#dropOnWriteError(err);
      throw err;
    }
    // checked after the row went in, so a failure here counts it among the file's lost rows
    if (file.bytes >= this.#opts.maxBytes) this.#finish(file);
  }

  #open(): ParquetFileWriter {
    const now = Date.now();
    const path = join(this.#opts.dir, fileName(this.#opts.prefix, now, this.#seq++));
    try {
      this.#current = new ParquetFileWriter({
        path,
        config: this.#opts.metadata,
        rowGroupRows: this.#opts.rowGroupRows,
        rowGroupBytes: this.#opts.rowGroupBytes,
        zstdLevel: this.#opts.zstdLevel,
      });
    } catch (err) {
      if (!(err instanceof OutputWriteError)) throw err;
      // the row that asked for the file is lost with it
      this.rowsLost++;
      throw writeErrorFrom(err.cause, err.path, "create", 1);
    }
    this.#openedAt = now;
    return this.#current;
  }

  #finish(file: ParquetFileWriter): void {
    const info = this.#run(() => file.finishSync());
    this.#current = null;
    this.rowsWritten += info.rows;
    this.filesWritten++;
    this.#opts.onFileClosed?.(info);
  }

  // Runs a step on the current file; a failure drops the file and counts its rows as lost.
  #run<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.#dropOnWriteError(err);
      throw err;
    }
  }

  #dropOnWriteError(err: unknown): void {
    if (err instanceof OutputWriteError) {
      this.#current = null;
      this.rowsLost += err.rowsLost;
    }
  }
}

// What follows `.<prefix>-` in the temporary name of a file fileName() named.
const TMP_SUFFIX = /^\d{8}T\d{6}\.\d{3}Z-\d{4,}\.parquet\.tmp$/;

// Temporary files left by a process that was killed hold no footer and cannot be read. The
// whole name is matched: prefix `podperf-n1` must not take the live file of node `n1-gpu`.
function removeStaleTmpFiles(dir: string, prefix: string): void {
  const head = `.${prefix}-`;
  for (const entry of Deno.readDirSync(dir)) {
    const name = entry.name;
    if (entry.isFile && name.startsWith(head) && TMP_SUFFIX.test(name.slice(head.length))) {
      Deno.removeSync(join(dir, entry.name));
      log.warn("removed incomplete parquet file left by an earlier run", { file: entry.name });
    }
  }
}
