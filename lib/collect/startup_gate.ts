/**
 * Holds the first slots' rows until pod metadata is ready (the first NRI Synchronize, or the
 * fallback scans), so containers running before the agent started are named from their first
 * row. The wait is bounded in time and in rows; past either bound the rows go on unnamed where
 * nothing knew them, and the caller counts them.
 */
import type { SlotRow } from "../aggregate/mod.ts";

/** Default wait for metadata before rows go on without it. */
export const DEFAULT_STARTUP_WAIT_MS = 2000;
/**
 * Default bound on held rows: a busy 2-CPU node makes ~20 rows per 1 ms slot, so 2 s is ~40 k;
 * a bigger node reaches the bound sooner and simply stops waiting (≈10 MB at most).
 */
export const DEFAULT_STARTUP_MAX_ROWS = 50_000;

/** Options of a StartupGate. */
export interface StartupGateOptions {
  /** Receives rows in order; `early` is true for rows released before metadata was ready. */
  emit: (rows: SlotRow[], early: boolean) => void;
  waitMs?: number;
  maxRows?: number;
  now?: () => number;
}

/** Passes rows through once opened; holds them (bounded) before. */
export class StartupGate {
  readonly waitMs: number;
  readonly maxRows: number;
  #emit: StartupGateOptions["emit"];
  #now: () => number;
  #deadline: number;
  #held: SlotRow[][] = [];
  #heldRows = 0;
  #open = false;
  #timedOut = false;

  constructor(opts: StartupGateOptions) {
    this.waitMs = opts.waitMs ?? DEFAULT_STARTUP_WAIT_MS;
    this.maxRows = opts.maxRows ?? DEFAULT_STARTUP_MAX_ROWS;
    this.#emit = opts.emit;
    this.#now = opts.now ?? (() => performance.now());
    this.#deadline = this.#now() + this.waitMs;
  }

  /** Rows held now. */
  get heldRows(): number {
    return this.#heldRows;
  }

  /** True once rows flow straight through. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** True when the gate opened on a bound rather than on metadata. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Takes rows: held before the gate opens, passed on after. */
  push(rows: SlotRow[]): void {
    if (this.#open) {
      this.#emit(rows, false);
      return;
    }
    this.#held.push(rows);
    this.#heldRows += rows.length;
    this.check();
  }

  /** Opens on a passed deadline or a full buffer; call on every loop turn. */
  check(): void {
    if (this.#open) return;
    if (this.#heldRows >= this.maxRows || this.#now() >= this.#deadline) this.#release(true);
  }

  /** Opens now without metadata (the run is ending): held rows go on marked early. */
  flush(): void {
    if (!this.#open) this.#release(true);
  }

  /** Metadata is ready: releases the held rows (now joinable) and opens. */
  ready(): void {
    if (!this.#open) this.#release(false);
  }

  #release(early: boolean): void {
    this.#open = true;
    this.#timedOut = early;
    const held = this.#held;
    this.#held = [];
    this.#heldRows = 0;
    for (const rows of held) this.#emit(rows, early);
  }
}
