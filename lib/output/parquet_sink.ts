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
import { type RowBatch, RowBatchBuilder } from "./row_batch.ts";
import { clockStepped, type OutputRow } from "./schema.ts";
import {
  type FromWorker,
  SHARED,
  SHARED_BYTES,
  type ToWorker,
  type WorkerCounters,
  type WorkerInit,
} from "./writer_protocol.ts";

/** Default bound of rows posted to the Worker and not yet written: ~30 MB of row batches. */
export const DEFAULT_MAX_QUEUED_ROWS = 262_144;
/**
 * Default time appended rows are held before they are posted to the Worker (at the next append
 * after it, or at twice it when no append comes). Each post wakes the Worker, and on a VM a
 * wake-up costs far more than the work (BENCHMARKS.md, wake): a quiet node's rows go over every
 * 5 s, a busy one's every DEFAULT_POST_ROWS. Holding them longer risks nothing a crash would not
 * take anyway: the Worker's row group is written only every 30 s on a quiet node.
 */
export const DEFAULT_POST_INTERVAL_MS = 5000;
/** Rows that are posted at once, whatever the interval (bounds what waits in this loop). */
export const DEFAULT_POST_ROWS = 16_384;
/** Default time close() waits for the Worker before abandoning it. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/**
 * Delay before a Worker that died is started again; it doubles with each death that follows a
 * short life, up to MAX_RESTART_DELAY_MS, and starts over after a Worker lived that long.
 */
export const RESTART_DELAY_MS = 1000;
/** Longest delay between restarts of a Worker that keeps dying. */
export const MAX_RESTART_DELAY_MS = 60_000;
/** Environment variable (tests only) that stalls the Worker this many ms after its first batch. */
export const STALL_ENV = "PODPERF_TEST_WRITER_STALL_MS";

/** Options of ParquetSink.open(): the Worker's writer options (rotation.ts) and the sink's own. */
export interface ParquetSinkOptions extends WorkerInit {
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
  /** batches posted to the Worker (appends are packed together: many appends to a batch) */
  batchesPosted: number;
  /** rows refused because the queue was full or the writer closed, or held when it stopped */
  rowsDropped: number;
  /** rows in complete files */
  rowsWritten: number;
  /**
   * rows the Worker took that are in no complete file (write errors, unfinished at shutdown or
   * when it died; those its restart salvaged from the dead Worker's file are in rowsSalvaged)
   */
  rowsLost: number;
  /** complete files written by this writer */
  files: number;
  /** files whose footer is written and whose fsync and publication are awaited */
  filesSyncing: number;
  /** files (and their rows) of writers that died, finished at (re)start; not in the counts above */
  filesSalvaged: number;
  rowsSalvaged: number;
  /** bytes of complete files of this prefix in the directory plus the file being written */
  bytesOnDisk: number;
  /** failed writes, and Worker deaths */
  writeErrors: number;
  lastError: string | null;
  /** false while the Worker is dead (until restarted) or once it missed its close deadline */
  healthy: boolean;
  /** Workers started again after one died */
  restarts: number;
  retention: RetentionStats | null;
  /** the current Worker's V8 heap as it last published it, bytes (0 before its first batch) */
  writerHeap: HeapBytes;
}

/** One V8 isolate's heap, bytes. */
export interface HeapBytes {
  /** live and not yet collected objects */
  usedBytes: number;
  /** pages V8 holds for the heap (what it adds to RSS) */
  committedBytes: number;
  /** memory outside the heap that its objects own (ArrayBuffer contents) */
  externalBytes: number;
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
  readonly #maxQueued: number;
  readonly #offset: () => bigint;
  readonly #retention: Retention | null;
  /** null while a Worker that died waits to be started again */
  #worker: Worker | null = null;
  #startedAt = 0;
  /** what the current Worker publishes after each batch (SHARED slots) */
  #shared = new BigInt64Array(new SharedArrayBuffer(SHARED_BYTES));
  /** its final counters, once it said `closed` */
  #final: WorkerCounters | null = null;
  /** what Workers that died had written, lost and failed */
  #base = { rowsWritten: 0, rowsLost: 0, filesWritten: 0, writeErrors: 0 };
  #restarts = 0;
  #restartDelayMs = RESTART_DELAY_MS;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #restarting: Promise<void> | null = null;
  /** rows the last Worker to die left unfinished, until its restart salvages them */
  #lostAtDeath = 0;
  /** close() stopped waiting for a restart: a Worker ready after that is not kept */
  #gaveUpStart = false;
  #lastError: string | null = null;
  #appended = 0;
  /**
   * appended rows not posted yet: finished batches, the one being built (with the clock offset
   * measured at its first rows), and the timer that posts them
   */
  #held: { batch: RowBatch; transfer: ArrayBuffer[]; offsetNs: bigint }[] = [];
  #building: { builder: RowBatchBuilder; offsetNs: bigint } | null = null;
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

  private constructor(opts: ParquetSinkOptions) {
    this.#opts = opts;
    this.#postIntervalMs = Math.max(
      0,
      Math.min(opts.postIntervalMs ?? DEFAULT_POST_INTERVAL_MS, opts.maxAgeMs / 4),
    );
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
    const sink = new ParquetSink(opts);
    await sink.#startWorker();
    // in the background: a slow directory listing must not hold up the start
    void sink.#retention?.enforce();
    return sink;
  }

  /**
   * Starts a Worker with fresh shared counters and waits for it to say ready (it has taken its
   * owner lock and salvaged the files of writers that died, a Worker of ours included).
   */
  async #startWorker(): Promise<number> {
    const worker = new Worker(new URL("./writer_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const shared = new BigInt64Array(new SharedArrayBuffer(SHARED_BYTES));
    const ready = new Promise<{ salvaged: number; rowsSalvaged: number }>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "ready") resolve(m);
        else if (m.type === "init-error") reject(new OutputConfigError(m.option, m.message));
        else this.#onMessage(m); // files salvaged during init
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`parquet writer failed to start: ${e.message}`));
      };
    });
    // the writer's own options travel; the sink's, callbacks among them, stay on this side
    const {
      maxQueuedRows: _q,
      postIntervalMs: _p,
      onFileClosed: _f,
      extraMetadata: _x,
      wallOffsetNs: _w,
      closeTimeoutMs: _c,
      retainBytes: _rb,
      retainAgeMs: _ra,
      keep: _k,
      ...init
    }: ParquetSinkOptions = this.#opts;
    worker.postMessage({ type: "init", opts: init, shared: shared.buffer } satisfies ToWorker);
    let r: { salvaged: number; rowsSalvaged: number };
    try {
      r = await ready;
    } catch (err) {
      worker.terminate();
      throw err;
    }
    if (this.#gaveUpStart) {
      worker.terminate();
      throw new Error("parquet writer started after close() gave up waiting for it");
    }
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      this.#died(worker, e.message);
    };
    this.#salvaged += r.salvaged;
    this.#rowsSalvaged += r.rowsSalvaged;
    this.#worker = worker;
    this.#shared = shared;
    this.#postedRows = 0;
    this.#postedBatches = 0;
    this.#startedAt = performance.now();
    this.#healthy = true;
    return r.rowsSalvaged;
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
    // While a dead Worker waits to be restarted, rows are held up to the same bound.
    if (this.#closing || this.#queuedRows + this.#heldRows + n > this.#maxQueued) {
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
    // V8's old space and grow the heap under load (RSS +50 MiB at 64 runnable tasks). Into one
    // batch across appends: the collector hands rows over in small groups, and a batch per
    // group would be held (and promoted) in their thousands.
    // Each batch carries the clock offset measured at its first rows: one that moved by a
    // step starts a new batch, and the Worker a new file there.
    const offsetNs = this.#offset();
    let b = this.#building;
    if (
      b &&
      (b.builder.room < n || !b.builder.accepts(rows) || clockStepped(offsetNs, b.offsetNs))
    ) {
      this.#seal();
      b = null;
    }
    b ??= this.#building = {
      builder: new RowBatchBuilder(Math.max(DEFAULT_POST_ROWS, n)),
      offsetNs,
    };
    try {
      b.builder.push(rows);
    } catch (err) {
      this.#dropped += n;
      log.throttled("parquet-pack", "error", "rows could not be handed to the writer", {
        error: String(err),
      });
      return;
    }
    const now = performance.now();
    if (this.#heldRows === 0) this.#heldSince = now;
    this.#heldRows += n;
    const interval = this.#postIntervalMs;
    // Posted from here when due (a tenth early: drains a second apart must not miss by a ms),
    // so an agent that appends steadily wakes for nothing else; the timer only covers appends
    // that stop (it is cleared long before it fires otherwise).
    if (this.#heldRows >= DEFAULT_POST_ROWS || now - this.#heldSince >= 0.9 * interval) {
      this.#postHeld();
    } else this.#postTimer ??= setTimeout(() => this.#postHeld(), 2 * interval);
  }

  /** Moves the batch being built to the held ones. */
  #seal(): void {
    const b = this.#building;
    this.#building = null;
    if (b && b.builder.rows > 0) this.#held.push({ ...b.builder.finish(), offsetNs: b.offsetNs });
  }

  /**
   * Posts the batches held so far, back to back: the Worker wakes once for all of them. With no
   * Worker (dead, to be restarted) they stay held.
   */
  #postHeld(): void {
    clearTimeout(this.#postTimer);
    this.#postTimer = undefined;
    // sealed even with no Worker to take it: what waits for a restart stays in bounded batches
    this.#seal();
    if (!this.#worker || !this.#healthy) return;
    const held = this.#held;
    const n = this.#heldRows;
    this.#held = [];
    this.#heldRows = 0;
    if (n === 0) return;
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
    clearTimeout(this.#restartTimer);
    this.#closing ??= (async () => {
      // a restart under way finishes first (within the close deadline), and takes what was
      // held while the Worker was dead
      if (this.#restarting) {
        let t: ReturnType<typeof setTimeout> | undefined;
        const late = await Promise.race([
          this.#restarting.then(() => false),
          new Promise<boolean>((r) => {
            t = setTimeout(() => r(true), this.#opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(t);
        // a Worker that becomes ready after this is terminated at once (#startWorker)
        if (late) this.#gaveUpStart = true;
      }
      this.#postHeld();
      if (this.#worker) await this.#finish(this.#worker);
      else {
        // no Worker to write them: rows held since one died are lost like a queue overflow
        this.#dropped += this.#heldRows;
        this.#held = [];
        this.#heldRows = 0;
      }
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

  /** Asks `worker` to finish its file and waits up to closeTimeoutMs; then terminates it. */
  async #finish(worker: Worker): Promise<void> {
    const done = new Promise<void>((resolve) => this.#closed = resolve);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(
        () => resolve("timeout"),
        this.#opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      );
    });
    this.#post({ type: "close", extra: this.#extra() });
    // a Worker that dies meanwhile resolves `done` too, its rows counted by #died
    const outcome = await Promise.race([done, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#abandonedRows += this.#queuedRows + this.#live().rowsPending;
      log.error("parquet writer did not finish in time: its file is left for salvage", {
        queuedRows: this.#queuedRows,
        pendingRows: this.#live().rowsPending,
      });
      this.#healthy = false;
    }
    worker.terminate();
  }

  /** The counters (see ParquetSinkStats). */
  stats(): ParquetSinkStats {
    const c = this.#counters;
    const retention = this.#retention?.stats() ?? null;
    return {
      rowsAppended: this.#appended,
      rowsQueued: this.#queuedRows + this.#heldRows,
      queueDepth: this.#postedBatches - this.#read(SHARED.batchesDone),
      batchesPosted: this.#postedBatches,
      rowsDropped: this.#dropped,
      rowsWritten: c.rowsWritten,
      rowsLost: c.rowsLost + this.#abandonedRows,
      files: c.filesWritten,
      filesSyncing: c.filesSyncing,
      filesSalvaged: this.#salvaged,
      rowsSalvaged: this.#rowsSalvaged,
      bytesOnDisk: (retention?.bytesOnDisk ?? this.#bytesWritten) + c.bytesPending,
      writeErrors: c.writeErrors,
      lastError: c.lastError,
      healthy: this.#healthy,
      restarts: this.#restarts,
      retention,
      writerHeap: {
        usedBytes: this.#read(SHARED.heapUsed),
        committedBytes: this.#read(SHARED.heapCommitted),
        externalBytes: this.#read(SHARED.heapExternal),
      },
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

  /** Test hook: the Worker throws an uncaught error, as a bug in it would. */
  crashForTest(): void {
    this.#post({ type: "crash" });
  }

  #bytesWritten = 0;

  #read(slot: number): number {
    return Number(Atomics.load(this.#shared, slot));
  }

  /** Rows posted and not yet taken by the Worker. */
  get #queuedRows(): number {
    return this.#postedRows - this.#read(SHARED.rowsDone);
  }

  /** All Workers' counters: the dead ones' and the current one's. */
  get #counters(): WorkerCounters {
    const c = this.#live(), b = this.#base;
    return {
      ...c,
      rowsWritten: b.rowsWritten + c.rowsWritten,
      rowsLost: b.rowsLost + c.rowsLost,
      filesWritten: b.filesWritten + c.filesWritten,
      writeErrors: b.writeErrors + c.writeErrors,
    };
  }

  /** The current Worker's counters: final once it closed, else what it last published. */
  #live(): WorkerCounters {
    if (this.#final) return { ...this.#final, lastError: this.#lastError ?? this.#final.lastError };
    return {
      rowsWritten: this.#read(SHARED.rowsWritten),
      rowsLost: this.#read(SHARED.rowsLost),
      rowsPending: this.#read(SHARED.rowsPending),
      bytesPending: this.#read(SHARED.bytesPending),
      filesWritten: this.#read(SHARED.filesWritten),
      filesSyncing: this.#read(SHARED.filesSyncing),
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

  /**
   * A Worker died (an uncaught error: a bug, not a write failure, which it survives). What it
   * had not finished is lost (its file is salvaged by the next Worker when the lock is free);
   * its counters are kept, and a new Worker starts after a delay unless the sink is closing.
   */
  #died(worker: Worker, message: string): void {
    if (worker !== this.#worker) return;
    const c = this.#live();
    const lost = this.#queuedRows + c.rowsPending;
    worker.terminate();
    this.#worker = null;
    this.#healthy = false;
    this.#lastError = message;
    this.#abandonedRows += lost;
    this.#lostAtDeath = lost;
    const b = this.#base;
    b.rowsWritten += c.rowsWritten;
    b.rowsLost += c.rowsLost;
    b.filesWritten += c.filesWritten;
    b.writeErrors += c.writeErrors + 1;
    this.#final = null;
    this.#shared = new BigInt64Array(new SharedArrayBuffer(SHARED_BYTES));
    this.#postedRows = 0;
    this.#postedBatches = 0;
    // a close waiting for this Worker ends now
    this.#closed?.();
    if (this.#closing) {
      log.error("parquet writer died", { error: message, rowsUnfinished: lost });
      return;
    }
    // a Worker that lived long died of something rare: start over; one that keeps dying waits
    if (performance.now() - this.#startedAt >= MAX_RESTART_DELAY_MS) {
      this.#restartDelayMs = RESTART_DELAY_MS;
    }
    const delay = this.#restartDelayMs;
    log.error("parquet writer died; it is started again, rows are held meanwhile", {
      error: message,
      rowsUnfinished: lost,
      restartInMs: delay,
    });
    this.#scheduleRestart(delay);
  }

  /** Starts a Worker after `delayMs`; a start that fails is tried again, each time later. */
  #scheduleRestart(delayMs: number): void {
    this.#restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, delayMs * 2);
    this.#restartTimer = setTimeout(() => {
      this.#restarting = this.#startWorker().then((rowsSalvaged) => {
        // The dead Worker's lock went with it: its file was just salvaged (another writer of
        // the directory dying meanwhile is the rare exception), so those rows are not lost.
        const back = Math.min(this.#lostAtDeath, rowsSalvaged);
        this.#abandonedRows -= back;
        this.#lostAtDeath = 0;
        this.#restarts++;
        log.info("parquet writer restarted", {
          restarts: this.#restarts,
          heldRows: this.#heldRows,
          filesSalvaged: this.#salvaged,
        });
        this.#postHeld();
      }, (err) => {
        if (this.#closing) return;
        log.error("parquet writer could not be started again; retrying", {
          error: String((err as Error).message ?? err),
          retryInMs: this.#restartDelayMs,
        });
        this.#scheduleRestart(this.#restartDelayMs);
      }).finally(() => (this.#restarting = null));
    }, delayMs);
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
    this.#worker?.postMessage(m, transfer);
  }
}
