/**
 * The writer Worker: owns Parquet encoding, ZSTD and every file operation (write, fsync,
 * rename, salvage) so none of it runs on the collector's loop, which drains the ring and
 * answers NRI. Fed RowBatches (transferred typed arrays) by ParquetSink; speaks only in the
 * messages of writer_protocol.ts.
 */
import { getHeapStatistics } from "node:v8";
import { log } from "../log.ts";
import { OutputConfigError, OutputWriteError } from "./errors.ts";
import { DEFAULT_ROW_GROUP_AGE_MS, RotatingParquetWriter } from "./rotation.ts";
import { releaseBatch } from "./row_batch.ts";
import { reserveArena, trimMalloc, WORKER_ARENA_BYTES } from "../malloc.ts";
import { type FromWorker, SHARED, type ToWorker, type WorkerCounters } from "./writer_protocol.ts";

interface Port {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
}
const port = self as unknown as Port;
let writer: RotatingParquetWriter | null = null;
let extra: Record<string, string> = {};
let writeErrors = 0;
let lastError: string | null = null;
let ageTimer: ReturnType<typeof setTimeout> | undefined;
/** (Re)arms the age check `ms` from now; a no-op until the writer is open. */
let armAgeCheck: (ms: number) => void = () => {};
let batchAgeDelayMs = 0;
let shared: BigInt64Array | null = null;
let rowsDone = 0;
let batchesDone = 0;

function counters(): WorkerCounters {
  return {
    rowsWritten: writer?.rowsWritten ?? 0,
    rowsLost: writer?.rowsLost ?? 0,
    rowsPending: writer?.rowsPending ?? 0,
    bytesPending: writer?.bytesPending ?? 0,
    filesWritten: writer?.filesWritten ?? 0,
    filesSyncing: writer?.filesFinishing ?? 0,
    writeErrors,
    lastError,
  };
}

/** Publishes the counters to the collector's side (see SHARED). */
function publish(): void {
  if (!shared) return;
  const c = counters();
  const put = (slot: number, v: number) => Atomics.store(shared!, slot, BigInt(v));
  put(SHARED.rowsWritten, c.rowsWritten);
  put(SHARED.rowsLost, c.rowsLost);
  put(SHARED.rowsPending, c.rowsPending);
  put(SHARED.bytesPending, c.bytesPending);
  put(SHARED.filesWritten, c.filesWritten);
  put(SHARED.filesSyncing, c.filesSyncing);
  put(SHARED.writeErrors, c.writeErrors);
  const h = getHeapStatistics(); // V8's own accounting: no /proc read, unlike Deno.memoryUsage
  put(SHARED.heapUsed, h.used_heap_size);
  put(SHARED.heapCommitted, h.total_heap_size);
  put(SHARED.heapExternal, h.external_memory);
  // last: the collector counts a batch as done once these say so
  put(SHARED.rowsDone, rowsDone);
  put(SHARED.batchesDone, batchesDone);
}

// A write error is counted and logged at most once a minute per kind; the writer has already
// finished the failed file with what was on disk, and the next rows start a new file.
function step(what: () => void): void {
  try {
    what();
  } catch (err) {
    report(err);
  }
}

function report(err: unknown): void {
  writeErrors++;
  lastError = (err as Error).message ?? String(err);
  // the counters travel in the shared array; only the message needs one
  port.postMessage({ type: "error", lastError });
  if (err instanceof OutputWriteError) {
    log.throttled(`parquet-write-${err.code}`, "error", err.message, {
      path: err.path,
      code: err.code,
      rowsLost: err.rowsLost,
    });
  } else {
    log.throttled("parquet-write", "error", "parquet writer failed", { error: lastError });
  }
}

// The last file's fsync (and any earlier file's still in flight) is awaited here; the sink
// gives it closeTimeoutMs before it terminates this Worker and leaves the file for salvage.
async function closeWriter(): Promise<void> {
  if (writer) {
    await writer.close().catch(report);
  }
  publish();
  port.postMessage({ type: "closed", counters: counters() });
}

port.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "init":
      shared = new BigInt64Array(m.shared);
      // before the first file grows this thread's arena under load (lib/malloc.ts)
      reserveArena(WORKER_ARENA_BYTES);
      try {
        writer = new RotatingParquetWriter({
          ...m.opts,
          extraMetadata: () => extra,
          onFileClosed: (info) => {
            port.postMessage({ type: "file", info });
            trimMalloc();
            // published after its fsync, between batches: the counters move now
            publish();
          },
        });
        port.postMessage({
          type: "ready",
          owner: writer.owner,
          salvaged: writer.salvaged.length,
          rowsSalvaged: writer.rowsSalvaged,
        });
        const w = writer;
        // Each batch ends in the same checks (appendBatch → rotateIfDue), so the timer is for a
        // node whose batches stopped: every batch pushes it back to twice its period, and a
        // Worker fed every 5 s wakes for the batches alone (each wake-up costs: BENCHMARKS.md,
        // idle floor). A 10-minute file age and a 30 s row group age are checked every 5 s once
        // batches stop, the first time up to 10 s after the last.
        const ages = Math.min(m.opts.maxAgeMs, m.opts.rowGroupAgeMs ?? DEFAULT_ROW_GROUP_AGE_MS);
        const every = Math.min(5000, Math.max(100, ages / 4));
        armAgeCheck = (ms) => {
          clearTimeout(ageTimer);
          ageTimer = setTimeout(() => {
            step(() => w.rotateIfDue());
            publish();
            armAgeCheck(every);
          }, ms);
        };
        armAgeCheck(every);
        batchAgeDelayMs = 2 * every;
      } catch (err) {
        const option = err instanceof OutputConfigError ? err.option : "dir";
        port.postMessage({ type: "init-error", option, message: (err as Error).message });
      }
      break;
    case "batch": {
      extra = m.extra;
      if (writer) step(() => writer!.appendBatch(m.batch, m.offsetNs));
      releaseBatch(m.batch);
      armAgeCheck(batchAgeDelayMs);
      rowsDone += m.batch.rows;
      batchesDone++;
      publish();
      break;
    }
    case "stall": {
      // test hook: the Worker blocks as a stuck fsync would
      const cell = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(cell, 0, 0, m.ms);
      break;
    }
    case "crash":
      // test hook: an uncaught error, as a bug would throw, ends the Worker
      setTimeout(() => {
        throw new Error("writer crashed (test hook)");
      });
      break;
    case "close":
      extra = m.extra;
      armAgeCheck = () => {};
      clearTimeout(ageTimer);
      void closeWriter();
      break;
  }
};
