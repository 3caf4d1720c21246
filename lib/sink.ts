/**
 * The seam between the collector and everything that consumes joined rows (the Parquet
 * writer, per-pod metrics, run totals): a sink takes rows without blocking and finishes on close.
 */
import type { OutputRow } from "./output/schema.ts";

/** A consumer of joined rows. */
export interface RowSink {
  /**
   * Takes a batch of rows. Must not block the drain loop and must not throw into it: slow work
   * (encoding, IO) happens elsewhere, and failures are counted in the sink's own stats.
   */
  append(rows: readonly OutputRow[]): void;
  /** Finishes whatever the sink holds (files complete, series flushed). */
  close(): Promise<void>;
}
