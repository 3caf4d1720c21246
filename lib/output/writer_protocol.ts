/**
 * What ParquetSink and the writer Worker say to each other: the messages and the slots of the
 * progress array they share. A module of its own because the collector's isolate must not
 * evaluate writer_worker.ts (its top level takes the global's onmessage and loads the encoder).
 */
import type { ClosedFileInfo } from "./parquet_writer.ts";
import type { RowBatch } from "./row_batch.ts";
import type { RotatingOptions } from "./rotation.ts";

/** Options the Worker is started with (RotatingOptions without the callbacks). */
export type WorkerInit = Omit<RotatingOptions, "onFileClosed" | "extraMetadata" | "monoNowMs">;

/**
 * Slots of the BigInt64Array over the SharedArrayBuffer both sides hold: the Worker stores its
 * progress there after each batch instead of answering it, because every message wakes the
 * collector's loop, and on a VM a wake-up costs far more than reading eight numbers.
 */
export const SHARED = {
  rowsDone: 0,
  batchesDone: 1,
  rowsWritten: 2,
  rowsLost: 3,
  rowsPending: 4,
  bytesPending: 5,
  filesWritten: 6,
  writeErrors: 7,
  // the Worker's V8 heap, bytes: in no other counter, and a slow leak there shows nowhere else
  heapUsed: 8,
  heapCommitted: 9,
  heapExternal: 10,
  // files whose footer is written, waiting for their fsync: a disk that stalls shows here first
  filesSyncing: 11,
} as const;
/** Bytes of that SharedArrayBuffer. */
export const SHARED_BYTES = 8 * Object.keys(SHARED).length;

/** Messages to the Worker. */
export type ToWorker =
  | { type: "init"; opts: WorkerInit; shared: SharedArrayBuffer }
  | { type: "batch"; batch: RowBatch; offsetNs: bigint; extra: Record<string, string> }
  | { type: "close"; extra: Record<string, string> }
  | { type: "stall"; ms: number }
  | { type: "crash" };

/** What the Worker reports with every acknowledgement. */
export interface WorkerCounters {
  rowsWritten: number;
  rowsLost: number;
  rowsPending: number;
  bytesPending: number;
  filesWritten: number;
  filesSyncing: number;
  writeErrors: number;
  lastError: string | null;
}

/** Messages from the Worker. */
export type FromWorker =
  | { type: "ready"; owner: string; salvaged: number; rowsSalvaged: number }
  | { type: "init-error"; option: string; message: string }
  | { type: "file"; info: ClosedFileInfo }
  // only when a batch failed: the counters are in the shared array, the message is not
  | { type: "error"; lastError: string }
  | { type: "closed"; counters: WorkerCounters };
