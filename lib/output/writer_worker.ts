/**
 * The writer Worker: owns Parquet encoding, ZSTD and every file operation (write, fsync,
 * rename, salvage) so none of it runs on the collector's loop, which drains the ring and
 * answers NRI. Fed RowBatches (transferred typed arrays) by ParquetSink; speaks only in the
 * messages below.
 */
import { log } from "../log.ts";
import { OutputConfigError, OutputWriteError } from "./errors.ts";
import type { ClosedFileInfo } from "./parquet_writer.ts";
import type { RowBatch } from "./row_batch.ts";
import { type RotatingOptions, RotatingParquetWriter } from "./rotation.ts";

/** Options the Worker is started with (RotatingOptions without the callbacks). */
export type WorkerInit = Omit<RotatingOptions, "onFileClosed" | "extraMetadata" | "monoNowMs">;

/** Messages to the Worker. */
export type ToWorker =
  | { type: "init"; opts: WorkerInit }
  | { type: "batch"; batch: RowBatch; offsetNs: bigint; extra: Record<string, string> }
  | { type: "close"; extra: Record<string, string> }
  | { type: "stall"; ms: number };

/** What the Worker reports with every acknowledgement. */
export interface WorkerCounters {
  rowsWritten: number;
  rowsLost: number;
  rowsPending: number;
  bytesPending: number;
  filesWritten: number;
  writeErrors: number;
  lastError: string | null;
}

/** Messages from the Worker. */
export type FromWorker =
  | { type: "ready"; owner: string; salvaged: number; rowsSalvaged: number }
  | { type: "init-error"; option: string; message: string }
  | { type: "file"; info: ClosedFileInfo }
  | { type: "ack"; rows: number; counters: WorkerCounters }
  | { type: "closed"; counters: WorkerCounters };

interface Port {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
}
const port = self as unknown as Port;
let writer: RotatingParquetWriter | null = null;
let extra: Record<string, string> = {};
let writeErrors = 0;
let lastError: string | null = null;
let ageTimer: ReturnType<typeof setInterval> | undefined;

function counters(): WorkerCounters {
  return {
    rowsWritten: writer?.rowsWritten ?? 0,
    rowsLost: writer?.rowsLost ?? 0,
    rowsPending: writer?.rowsPending ?? 0,
    bytesPending: writer?.bytesPending ?? 0,
    filesWritten: writer?.filesWritten ?? 0,
    writeErrors,
    lastError,
  };
}

// A write error is counted and logged at most once a minute per kind; the writer has already
// finished the failed file with what was on disk, and the next rows start a new file.
function step(what: () => void): void {
  try {
    what();
  } catch (err) {
    writeErrors++;
    lastError = (err as Error).message ?? String(err);
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
}

port.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "init":
      try {
        writer = new RotatingParquetWriter({
          ...m.opts,
          extraMetadata: () => extra,
          onFileClosed: (info) => port.postMessage({ type: "file", info }),
        });
        port.postMessage({
          type: "ready",
          owner: writer.owner,
          salvaged: writer.salvaged.length,
          rowsSalvaged: writer.rowsSalvaged,
        });
        const w = writer;
        // Batches rotate a due file too; the timer is for a quiet node. Every wake-up costs
        // (BENCHMARKS.md, idle floor), so a 10-minute age is checked every 5 s, not every 1 s.
        const every = Math.min(5000, Math.max(100, m.opts.maxAgeMs / 4));
        ageTimer = setInterval(() => step(() => w.rotateIfDue()), every);
      } catch (err) {
        const option = err instanceof OutputConfigError ? err.option : "dir";
        port.postMessage({ type: "init-error", option, message: (err as Error).message });
      }
      break;
    case "batch":
      extra = m.extra;
      if (writer) step(() => writer!.appendBatch(m.batch, m.offsetNs));
      port.postMessage({ type: "ack", rows: m.batch.rows, counters: counters() });
      break;
    case "stall": {
      // test hook: the Worker blocks as a stuck fsync would
      const cell = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(cell, 0, 0, m.ms);
      break;
    }
    case "close":
      extra = m.extra;
      clearInterval(ageTimer);
      if (writer) step(() => writer!.closeSync());
      port.postMessage({ type: "closed", counters: counters() });
      break;
  }
};
