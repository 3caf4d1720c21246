/**
 * A stream of Parquet files: rows go to the current file, which is completed and a new one
 * started when it reaches a size or an age (measured on the monotonic clock), or when the wall
 * clock steps. Synchronous: it runs inside the writer Worker (writer_worker.ts), never on the
 * collector's loop.
 */
import { join } from "node:path";
import { log } from "../log.ts";
import { OwnerLock } from "./dir_lock.ts";
import { OutputClosedError, OutputConfigError, OutputWriteError } from "./errors.ts";
import { type ClosedFileInfo, ParquetFileWriter } from "./parquet_writer.ts";
import { packRows, type RowBatch, rowColumnIndex } from "./row_batch.ts";
import { salvageDeadWriters } from "./salvage.ts";
import { CLOCK_STEP_NS, clockStepped, type FileConfig, type OutputRow } from "./schema.ts";
export { CLOCK_STEP_NS };

const MONO_INDEX = rowColumnIndex("mono_ns");

/**
 * Default age of a row group's oldest rows at which the group is written though not full: on a
 * quiet node a group of DEFAULT_ROW_GROUP_ROWS takes many minutes to fill, and a crash (SIGKILL,
 * OOM) loses the group being built, so this bounds the loss in time as well as in rows.
 */
export const DEFAULT_ROW_GROUP_AGE_MS = 30_000;

/**
 * A finished file published this long after its footer was written is logged (once a minute):
 * its rows are in no complete file meanwhile, and a disk that slow is the operator's to know.
 */
export const SLOW_PUBLISH_MS = 10_000;

/** Options of a RotatingParquetWriter. */
export interface RotatingOptions {
  /** existing directory the files go to */
  dir: string;
  /** file name prefix, by convention `podperf-<node>` */
  prefix: string;
  /** a file is completed once its encoded size reaches this; it may exceed it by a row group */
  maxBytes: number;
  /** a file is completed by the first append or rotateIfDue() this long after it was opened */
  maxAgeMs: number;
  /** rows per row group */
  rowGroupRows?: number;
  /** estimated uncompressed bytes after which a row group is flushed early */
  rowGroupBytes?: number;
  /**
   * a row group is written by the first append or rotateIfDue() once its oldest rows are this
   * old (ms), full or not (default DEFAULT_ROW_GROUP_AGE_MS)
   */
  rowGroupAgeMs?: number;
  /** ZSTD level */
  zstdLevel?: number;
  /** node, version, clock offset and counters; the offset is replaced per file by appendBatch */
  metadata: FileConfig;
  /** more key/value metadata, evaluated when each file is finished */
  extraMetadata?: () => Record<string, string>;
  /** called after each file is complete under its final name (salvaged ones included) */
  onFileClosed?: (info: ClosedFileInfo) => void;
  /** monotonic ms for file ages (default performance.now) */
  monoNowMs?: () => number;
}

/** File name of the `seq`-th file whose first slot is at `wallMs` (ms since the epoch). */
export function fileName(prefix: string, wallMs: number, seq: number): string {
  // 2024-05-01T12:00:00.123Z → 20240501T120000.123Z: sortable and free of colons
  const stamp = new Date(wallMs).toISOString().replaceAll("-", "").replaceAll(":", "");
  return `${prefix}-${stamp}-${String(seq).padStart(4, "0")}.parquet`;
}

/**
 * Writes rows to a series of Parquet files, each complete (footer written, fsync'd) before it
 * appears under its final name `<prefix>-<UTC time of its first slot>-<seq>.parquet`; until
 * then it is `.<name>.parquet.<owner>.tmp` with a row group sidecar beside it.
 *
 * At construction it takes this writer's owner lock (refusing an unwritable directory with
 * OutputConfigError) and salvages the temporary files of writers that died.
 *
 * Counting: `rowsWritten` counts only rows inside completed files. A write failure (ENOSPC,
 * EIO…) finishes the failed file with the row groups already on disk, adds the other rows to
 * `rowsLost` and throws OutputWriteError from the call that hit it; the next append starts a new
 * file.
 */
export class RotatingParquetWriter {
  /** rows in completed files */
  rowsWritten = 0;
  /** rows appended that are in no completed file */
  rowsLost = 0;
  /** completed files */
  filesWritten = 0;
  /** rows in files salvaged at start from writers that died (not counted in rowsWritten) */
  rowsSalvaged = 0;
  /** files finished from a dead writer's leftovers at start */
  readonly salvaged: ClosedFileInfo[];
  readonly #opts: RotatingOptions;
  readonly #lock: OwnerLock;
  readonly #mono: () => number;
  #current: ParquetFileWriter | null = null;
  /** files whose footer is written, waiting for their fsync and publication, oldest first */
  #finishing: { rows: number; bytes: number }[] = [];
  /** the publication chain: each file is published after the one before it */
  #published: Promise<void> = Promise.resolve();
  /** failures of files finished in the background, each thrown by a later call */
  #backgroundErrors: unknown[] = [];
  #currentOffset = 0n;
  #offsetNs: bigint;
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
    this.#mono = opts.monoNowMs ?? (() => performance.now());
    this.#offsetNs = opts.metadata.monoToWallOffsetNs;
    this.#lock = OwnerLock.acquire(opts.dir, opts.prefix);
    const { files } = salvageDeadWriters(opts.dir, opts.prefix);
    this.salvaged = files;
    for (const info of files) {
      this.rowsSalvaged += info.rows;
      opts.onFileClosed?.(info);
    }
  }

  /** This writer's owner tag (in its temporary and lock file names). */
  get owner(): string {
    return this.#lock.owner;
  }

  /** Rows appended that are not yet in a completed file (the current file's and those finishing). */
  get rowsPending(): number {
    return (this.#current?.rows ?? 0) + this.#finishing.reduce((n, f) => n + f.rows, 0);
  }

  /** Bytes on disk of files not yet completed (the current file and those finishing). */
  get bytesPending(): number {
    return (this.#current?.bytes ?? 0) + this.#finishing.reduce((n, f) => n + f.bytes, 0);
  }

  /** Files whose footer is written and whose fsync and publication are awaited. */
  get filesFinishing(): number {
    return this.#finishing.length;
  }

  /** Final path of the file being written, or null between files. */
  get currentPath(): string | null {
    return this.#current?.path ?? null;
  }

  /** Adds one row; may complete the current file (size or age) and start another. */
  append(row: OutputRow): void {
    this.appendBatch(packRows([row]).batch);
  }

  /** Adds rows in order (see appendBatch). */
  appendMany(rows: readonly OutputRow[]): void {
    this.appendBatch(packRows(rows).batch);
  }

  /**
   * Adds a batch of rows in order, then checks the file's age once (its rows arrived together).
   * `offsetNs` is the wall-clock offset measured with the batch: a file takes the offset of its
   * first batch, and an offset that moved by CLOCK_STEP_NS completes the file first. At the
   * first failure it stops, counts the batch's remaining rows in `rowsLost` (so written + lost
   * equals appended once closed) and throws that failure.
   */
  appendBatch(batch: RowBatch, offsetNs?: bigint): void {
    if (this.#closed) throw new OutputClosedError(this.#opts.dir);
    let done = 0;
    try {
      if (offsetNs !== undefined) {
        const d = offsetNs - this.#currentOffset;
        if (this.#current && clockStepped(offsetNs, this.#currentOffset)) {
          log.warn("wall clock stepped: starting a new file", { stepNs: d });
          this.#finish(this.#current);
        }
        this.#offsetNs = offsetNs;
      }
      while (done < batch.rows) {
        const file = this.#current ?? this.#open(batch, done);
        const room = Math.max(1, this.#opts.rowGroupRows ?? batch.rows);
        const take = Math.min(batch.rows - done, room);
        const before = file.rows;
        try {
          file.appendBatch(batch, done, take);
        } catch (err) {
          // the rows the file took before failing are in the error's rowsLost already
          done += file.rows - before;
          this.#dropOnWriteError(err);
          throw err;
        }
        done += take;
        if (file.bytes >= this.#opts.maxBytes) this.#finish(file);
      }
    } catch (err) {
      // the rows of the batch no file took
      if (err instanceof OutputWriteError) this.rowsLost += batch.rows - done;
      throw err;
    }
    this.rotateIfDue();
  }

  /**
   * Completes the current file if it is older than maxAgeMs, else writes its row group if that
   * is older than rowGroupAgeMs; for callers with idle periods.
   */
  rotateIfDue(): void {
    const file = this.#current;
    if (file) {
      const now = this.#mono();
      if (now - this.#openedAt >= this.#opts.maxAgeMs) this.#finish(file);
      else if (file.groupAgeMs >= (this.#opts.rowGroupAgeMs ?? DEFAULT_ROW_GROUP_AGE_MS)) {
        try {
          file.flushRowGroup();
        } catch (err) {
          this.#dropOnWriteError(err);
          throw err;
        }
      }
    }
    this.#throwBackgroundError();
  }

  /** Completes the current file now, whatever its size or age, and waits until it is published. */
  async rotate(): Promise<void> {
    if (this.#current) this.#finish(this.#current);
    await this.settled();
  }

  /**
   * Resolves once every file finished so far is published (or has failed); rejects with a
   * failure of finishing one in the background that no call has thrown yet.
   */
  async settled(): Promise<void> {
    await this.#published;
    this.#throwBackgroundError();
  }

  /** Completes the current file, waits until every file is published, releases the owner lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#current) this.#finish(this.#current);
    } finally {
      await this.#published;
      const tag = `.${this.#lock.owner}.tmp`;
      const left = [...Deno.readDirSync(this.#opts.dir)].some((e) => e.name.endsWith(tag));
      this.#lock.release(left);
    }
    this.#throwBackgroundError();
  }

  /**
   * Stops without finishing the current file: it stays on disk with its sidecar for salvage at
   * the next start (the lock is dropped only by process exit, so no other writer takes it now).
   */
  abandon(): void {
    this.#closed = true;
    this.#current?.abandon();
    this.#current = null;
  }

  #open(batch: RowBatch, from: number): ParquetFileWriter {
    const mono = firstMono(batch, from);
    // named by the first slot on the monotonic clock plus the offset measured now
    const wallMs = mono === null ? Date.now() : Number((mono + this.#offsetNs) / 1_000_000n);
    const path = join(this.#opts.dir, fileName(this.#opts.prefix, wallMs, this.#seq++));
    this.#current = new ParquetFileWriter({
      path,
      owner: this.#lock.owner,
      config: { ...this.#opts.metadata, monoToWallOffsetNs: this.#offsetNs },
      rowGroupRows: this.#opts.rowGroupRows,
      rowGroupBytes: this.#opts.rowGroupBytes,
      zstdLevel: this.#opts.zstdLevel,
      extraMetadata: this.#opts.extraMetadata,
      monoNowMs: this.#mono,
    });
    this.#currentOffset = this.#offsetNs;
    this.#openedAt = this.#mono();
    return this.#current;
  }

  // The footer is written now; the fsync and the publication complete in the background, in
  // order, while rows go to the next file. A failure there is thrown by a later call.
  #finish(file: ParquetFileWriter): void {
    try {
      file.writeFooter();
    } catch (err) {
      this.#dropOnWriteError(err);
      throw err;
    } finally {
      this.#current = null;
    }
    this.#finishing.push({ rows: file.rows, bytes: file.bytes });
    const footerAt = this.#mono();
    const synced = file.publishWhenSynced();
    // handled below once the files before it are published; until then, not "unhandled"
    synced.catch(() => {});
    this.#published = this.#published.then(() => synced).then(
      (info) => {
        this.#finishing.shift();
        const waitedMs = Math.round(this.#mono() - footerAt);
        if (waitedMs >= SLOW_PUBLISH_MS) {
          log.throttled(
            "parquet-slow-publish",
            "warn",
            "a finished parquet file waited for its fsync",
            {
              path: info.path,
              waitedMs,
            },
          );
        }
        this.#completed(info);
      },
      (err) => {
        this.#finishing.shift();
        if (err instanceof OutputWriteError) {
          this.rowsLost += err.rowsLost;
          if (err.completed) this.#completed(err.completed);
        }
        this.#backgroundErrors.push(err);
      },
    ).catch((err) => {
      this.#backgroundErrors.push(err); // an onFileClosed hook that threw
    });
  }

  #throwBackgroundError(): void {
    if (this.#backgroundErrors.length > 0) throw this.#backgroundErrors.shift();
  }

  #completed(info: ClosedFileInfo): void {
    this.rowsWritten += info.rows;
    this.filesWritten++;
    this.#opts.onFileClosed?.(info);
  }

  #dropOnWriteError(err: unknown): void {
    if (!(err instanceof OutputWriteError)) return;
    this.#current = null;
    this.rowsLost += err.rowsLost;
    if (err.completed) this.#completed(err.completed);
  }
}

function firstMono(batch: RowBatch, from: number): bigint | null {
  const col = batch.columns[MONO_INDEX];
  if (!col || batch.rows <= from) return null;
  if (col.kind === "i64") return col.data[from];
  if (col.kind === "f64") return BigInt(Math.round(col.data[from]));
  return null;
}
