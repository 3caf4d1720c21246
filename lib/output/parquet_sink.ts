/**
 * The Parquet writer as the collector sees it: a RowSink whose append() only packs rows into
 * typed arrays and posts them (transferred, not copied) to the writer Worker, through a queue
 * bounded in rows whose overflow is dropped and counted. Encoding, compression and all file IO
 * happen in the Worker; retention's deletes are async. close() finishes within a deadline
 * whatever the Worker is stuck in.
 */
import { log } from "../log.ts";
import { measureMonoToWallOffsetNs } from "../sampler/clock.ts";
import type { RowSink } from "../sink.ts";
import { OutputConfigError } from "./errors.ts";
import type { ClosedFileInfo } from "./parquet_writer.ts";
import { Retention, type RetentionStats } from "./retention.ts";
import { packRows, type RowBatch } from "./row_batch.ts";
import type { FileConfig, OutputRow } from "./schema.ts";
import {
  type FromWorker,
  SHARED,
  SHARED_BYTES,
  type ToWorker,
  type WorkerCounters,
  type WorkerInit,
} from "./writer_worker.ts";

/** Default bound of rows posted to the Worker and not yet written: ~30 MB of row batches. */
export const DEFAULT_MAX_QUEUED_ROWS = 262_144;
/**
 * Default time appended rows are held before they are posted to the Worker (at the next append
 * after it, or at twice it when no append comes). Each post wakes the Worker and its answer
 * wakes this loop: on a VM a wake-up costs far more than the work, so a busy collector's 20
 * drains a second are posted as one batch a second.
 */
export const DEFAULT_POST_INTERVAL_MS = 1000;
/** Rows that are posted at once, whatever the interval (bounds what waits in this loop). */
export const DEFAULT_POST_ROWS = 16_384;
/** Default time close() waits for the Worker before abandoning it. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/** Environment variable (tests only) that stalls the Worker this many ms after its first batch. */
export const STALL_ENV = "PODPERF_TEST_WRITER_STALL_MS";

/** Options of ParquetSink.open(). */
export interface ParquetSinkOptions {
  /** existing directory for the files */
  dir: string;
  /** file name prefix, by convention `podperf-<node>` */
  prefix: string;
  /** rotate at this encoded size (bytes) */
  maxBytes: number;
  /** rotate at this age (ms, monotonic clock) */
  maxAgeMs: number;
  rowGroupRows?: number;
  rowGroupBytes?: number;
  zstdLevel?: number;
  /** constant file metadata; its clock offset is re-measured per batch */
  metadata: FileConfig;
  /** rows posted and not yet written beyond which batches are dropped (and counted) */
  maxQueuedRows?: number;
  /** how long appended rows are held before they are posted (default DEFAULT_POST_INTERVAL_MS, at most maxAgeMs / 4) */
  postIntervalMs?: number;
  /** called on the caller's loop after each file is complete (salvaged ones included) */
  onFileClosed?: (info: ClosedFileInfo) => void;
  /** more key/value metadata for each file, evaluated as rows are handed over and at close */
  extraMetadata?: () => Record<string, string>;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC now (default: measured with clock_gettime) */
  wallOffsetNs?: () => bigint;
  /** how long close() waits for the Worker to finish the current file */
  closeTimeoutMs?: number;
  /** retention: bytes of complete files kept (default: no limit) */
  retainBytes?: number;
  /** retention: age of complete files kept, ms (default: no limit) */
  retainAgeMs?: number;
  /** retention: true = do not delete yet (e.g. not uploaded) */
  keep?: (path: string) => boolean;
}

/** Counters of a ParquetSink, for the stats line and /metrics. */
export interface ParquetSinkStats {
  /** rows given to append() */
  rowsAppended: number;
  /** rows appended and not yet processed by the Worker (waiting to be posted, or posted) */
  rowsQueued: number;
  /** batches posted and not yet processed */
  queueDepth: number;
  /** rows refused because the queue was full or the writer closed or dead */
  rowsDropped: number;
  /** rows in complete files */
  rowsWritten: number;
  /** rows the Worker took that are in no complete file (write errors, unfinished at shutdown) */
  rowsLost: number;
  /** complete files written by this writer */
  files: number;
  /** files (and their rows) of writers that died, finished at start; not in the counts above */
  filesSalvaged: number;
  rowsSalvaged: number;
  /** bytes of complete files of this prefix in the directory plus the file being written */
  bytesOnDisk: number;
  writeErrors: number;
  lastError: string | null;
  /** false once the Worker died or missed its close deadline */
  healthy: boolean;
  retention: RetentionStats | null;
}

/**
 * The Parquet RowSink. Create with `await ParquetSink.open(opts)`: it refuses an unwritable or
 * missing directory (OutputConfigError) before anything is collected.
 *
 * @example
 * const sink = await ParquetSink.open({ dir, prefix: "podperf-n1", maxBytes: 256 << 20,
 *   maxAgeMs: 600_000, metadata, onFileClosed: (f) => uploader.add(f.path) });
 * sink.append(rows); // never blocks, never throws
 * await sink.close();
 */
export class ParquetSink implements RowSink {
  readonly #opts: ParquetSinkOptions;
  readonly #worker: Worker;
  readonly #maxQueued: number;
  readonly #offset: () => bigint;
  readonly #retention: Retention | null;
  /** what the Worker publishes after each batch (SHARED slots) */
  readonly #shared = new BigInt64Array(new SharedArrayBuffer(SHARED_BYTES));
  /** its final counters, once it said `closed` */
  #final: WorkerCounters | null = null;
  #lastError: string | null = null;
  #appended = 0;
  /** appended rows not posted yet, and the timer that posts them */
  #held: { batch: RowBatch; transfer: ArrayBuffer[]; offsetNs: bigint }[] = [];
  #heldRows = 0;
  #heldSince = 0;
  #postTimer: ReturnType<typeof setTimeout> | undefined;
  #postedRows = 0;
  #postedBatches = 0;
  #dropped = 0;
  #salvaged = 0;
  #rowsSalvaged = 0;
  #abandonedRows = 0;
  #healthy = true;
  #closing: Promise<void> | null = null;
  #closed: (() => void) | null = null;
  #stallAfterFirst: number;
  /** rows reach the Worker at least four times per file age, so rotation by age keeps its pace */
  readonly #postIntervalMs: number;

  private constructor(opts: ParquetSinkOptions, worker: Worker) {
    this.#opts = opts;
    this.#postIntervalMs = Math.max(
      0,
      Math.min(opts.postIntervalMs ?? DEFAULT_POST_INTERVAL_MS, opts.maxAgeMs / 4),
    );
    this.#worker = worker;
    this.#maxQueued = opts.maxQueuedRows ?? DEFAULT_MAX_QUEUED_ROWS;
    this.#offset = opts.wallOffsetNs ?? (() => measureMonoToWallOffsetNs(3));
    const hasRetention = opts.retainBytes !== undefined || opts.retainAgeMs !== undefined;
    this.#retention = hasRetention
      ? new Retention({
        dir: opts.dir,
        prefix: opts.prefix,
        maxBytes: opts.retainBytes ?? Infinity,
        maxAgeMs: opts.retainAgeMs ?? Infinity,
        keep: opts.keep,
      })
      : null;
    try {
      this.#stallAfterFirst = Number(Deno.env.get(STALL_ENV) ?? 0) || 0;
    } catch {
      this.#stallAfterFirst = 0; // no env permission: no test hook
    }
  }

  /** Starts the Worker, which takes the directory's owner lock and salvages dead writers' files. */
  static async open(opts: ParquetSinkOptions): Promise<ParquetSink> {
    const worker = new Worker(new URL("./writer_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const sink = new ParquetSink(opts, worker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "ready") {
          sink.#salvaged = m.salvaged;
          sink.#rowsSalvaged = m.rowsSalvaged;
          worker.onmessage = (e: MessageEvent<FromWorker>) => sink.#onMessage(e.data);
          resolve();
        } else if (m.type === "init-error") {
          reject(new OutputConfigError(m.option, m.message));
        } else sink.#onMessage(m); // files salvaged during init
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`parquet writer failed to start: ${e.message}`));
      };
    });
    const init: WorkerInit = {
      dir: opts.dir,
      prefix: opts.prefix,
      maxBytes: opts.maxBytes,
      maxAgeMs: opts.maxAgeMs,
      rowGroupRows: opts.rowGroupRows,
      rowGroupBytes: opts.rowGroupBytes,
      zstdLevel: opts.zstdLevel,
      metadata: opts.metadata,
    };
    worker.postMessage(
      { type: "init", opts: init, shared: sink.#shared.buffer } satisfies ToWorker,
    );
    try {
      await ready;
    } catch (err) {
      worker.terminate();
      throw err;
    }
    worker.onerror = (e) => {
      e.preventDefault();
      sink.#died(e.message);
    };
    // in the background: a slow directory listing must not hold up the start
    void sink.#retention?.enforce();
    return sink;
  }

  /**
   * Takes rows for the Worker; drops (and counts) them when the queue is full. Never throws.
   * They are posted together by the first append `postIntervalMs` later, by a timer at twice it
   * when none comes, or at once past DEFAULT_POST_ROWS.
   */
  append(rows: readonly OutputRow[]): void {
    const n = rows.length;
    if (n === 0) return;
    this.#appended += n;
    if (
      !this.#healthy || this.#closing || this.#queuedRows + this.#heldRows + n > this.#maxQueued
    ) {
      this.#dropped += n;
      log.throttled("parquet-queue-full", "warn", "parquet writer behind: rows dropped", {
        rows: n,
        queuedRows: this.#queuedRows + this.#heldRows,
        dropped: this.#dropped,
        healthy: this.#healthy,
      });
      return;
    }
    // Packed now, while the rows are young: objects held for a second would be promoted to
    // V8's old space and grow the heap under load (RSS +50 MiB at 64 runnable tasks).
    let packed: ReturnType<typeof packRows>;
    try {
      packed = packRows(rows);
    } catch (err) {
      this.#dropped += n;
      log.throttled("parquet-pack", "error", "rows could not be handed to the writer", {
        error: String(err),
      });
      return;
    }
    const now = performance.now();
    if (this.#heldRows === 0) this.#heldSince = now;
    // each batch carries the clock offset measured with it (a step starts a new file there)
    this.#held.push({ ...packed, offsetNs: this.#offset() });
    this.#heldRows += n;
    const interval = this.#postIntervalMs;
    // Posted from here when due (a tenth early: drains a second apart must not miss by a ms),
    // so an agent that appends steadily wakes for nothing else; the timer only covers appends
    // that stop (it is cleared long before it fires otherwise).
    if (this.#heldRows >= DEFAULT_POST_ROWS || now - this.#heldSince >= 0.9 * interval) {
      this.#postHeld();
    } else this.#postTimer ??= setTimeout(() => this.#postHeld(), 2 * interval);
  }

  /** Posts the batches held so far, back to back: the Worker wakes once for all of them. */
  #postHeld(): void {
    clearTimeout(this.#postTimer);
    this.#postTimer = undefined;
    const held = this.#held;
    const n = this.#heldRows;
    this.#held = [];
    this.#heldRows = 0;
    if (n === 0) return;
    if (!this.#healthy) {
      this.#dropped += n;
      return;
    }
    const extra = this.#extra();
    for (const { batch, transfer, offsetNs } of held) {
      this.#post({ type: "batch", batch, offsetNs, extra }, transfer);
      this.#postedRows += batch.rows;
      this.#postedBatches++;
    }
    if (this.#stallAfterFirst > 0) {
      this.stallForTest(this.#stallAfterFirst);
      this.#stallAfterFirst = 0;
    }
  }

  /**
   * Finishes the current file and stops the Worker. Never throws: failures are in stats().
   * If the Worker does not answer within closeTimeoutMs it is terminated; its temporary file
   * stays with its sidecar and is salvaged by the next start.
   */
  close(): Promise<void> {
    // what waits to be posted goes first: close() finishes with every appended row
    if (!this.#closing) this.#postHeld();
    this.#closing ??= (async () => {
      const done = new Promise<void>((resolve) => this.#closed = resolve);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(
          () => resolve("timeout"),
          this.#opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
        );
      });
      if (this.#healthy) this.#post({ type: "close", extra: this.#extra() });
      const outcome = this.#healthy ? await Promise.race([done, timeout]) : "timeout";
      clearTimeout(timer);
      if (outcome === "timeout") {
        this.#abandonedRows = this.#queuedRows + this.#counters.rowsPending;
        if (this.#healthy) {
          log.error("parquet writer did not finish in time: its file is left for salvage", {
            queuedRows: this.#queuedRows,
            pendingRows: this.#counters.rowsPending,
          });
        }
        this.#healthy = false;
      }
      this.#worker.terminate();
      // a last retention pass for the files just completed, bounded: a hung filesystem must
      // not hold up the exit
      if (this.#retention) {
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          this.#retention.enforce(),
          new Promise((r) => t = setTimeout(r, 1000)),
        ]);
        clearTimeout(t);
      }
    })();
    return this.#closing;
  }

  /** The counters (see ParquetSinkStats). */
  stats(): ParquetSinkStats {
    const c = this.#counters;
    const retention = this.#retention?.stats() ?? null;
    return {
      rowsAppended: this.#appended,
      rowsQueued: this.#queuedRows + this.#heldRows,
      queueDepth: this.#postedBatches - this.#read(SHARED.batchesDone),
      rowsDropped: this.#dropped,
      rowsWritten: c.rowsWritten,
      rowsLost: c.rowsLost + this.#abandonedRows,
      files: c.filesWritten,
      filesSalvaged: this.#salvaged,
      rowsSalvaged: this.#rowsSalvaged,
      bytesOnDisk: (retention?.bytesOnDisk ?? this.#bytesWritten) + c.bytesPending,
      writeErrors: c.writeErrors,
      lastError: c.lastError,
      healthy: this.#healthy,
      retention,
    };
  }

  /** Runs a retention pass now and resolves when it is done (close() waits at most 1 s). */
  async enforceRetention(): Promise<void> {
    await this.#retention?.enforce();
  }

  /** Test hook: blocks the Worker for `ms` as a stuck disk would. */
  stallForTest(ms: number): void {
    this.#post({ type: "stall", ms });
  }

  #bytesWritten = 0;

  #read(slot: number): number {
    return Number(Atomics.load(this.#shared, slot));
  }

  /** Rows posted and not yet taken by the Worker. */
  get #queuedRows(): number {
    return this.#postedRows - this.#read(SHARED.rowsDone);
  }

  /** The Worker's counters: final once it closed, else what it last published. */
  get #counters(): WorkerCounters {
    if (this.#final) return { ...this.#final, lastError: this.#lastError ?? this.#final.lastError };
    return {
      rowsWritten: this.#read(SHARED.rowsWritten),
      rowsLost: this.#read(SHARED.rowsLost),
      rowsPending: this.#read(SHARED.rowsPending),
      bytesPending: this.#read(SHARED.bytesPending),
      filesWritten: this.#read(SHARED.filesWritten),
      writeErrors: this.#read(SHARED.writeErrors),
      lastError: this.#lastError,
    };
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case "file":
        this.#bytesWritten += m.info.bytes;
        try {
          this.#opts.onFileClosed?.(m.info);
        } catch (err) {
          log.error("onFileClosed failed", { error: String(err) });
        }
        void this.#retention?.enforce();
        break;
      case "error":
        this.#lastError = m.lastError;
        break;
      case "closed":
        this.#final = m.counters;
        this.#closed?.();
        break;
    }
  }

  #died(message: string): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#lastError = message;
    this.#abandonedRows = this.#queuedRows + this.#counters.rowsPending;
    log.error("parquet writer died", { error: message, rowsLost: this.#abandonedRows });
    this.#closed?.();
  }

  #extra(): Record<string, string> {
    if (!this.#opts.extraMetadata) return {};
    try {
      return this.#opts.extraMetadata();
    } catch (err) {
      log.throttled("parquet-extra", "warn", "extraMetadata failed", { error: String(err) });
      return {};
    }
  }

  #post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(m, transfer);
  }
}
