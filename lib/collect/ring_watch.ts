/**
 * Says when the ring buffer overflowed, at most once per period: how many records could not be
 * reserved (their charge went into the task's next record), the record rate over the period,
 * and the ring that would hold RING_HOLD_S of that rate (`--ring-size`).
 */
import { log } from "../log.ts";
import { ringBytesFor } from "../sampler/mod.ts";

export class RingWatch {
  readonly #lost: () => bigint;
  readonly #records: () => number;
  readonly #ringBytes: number;
  readonly #periodMs: number;
  #lostSeen = 0n;
  #since = performance.now();
  #recordsSince = 0;
  #warnings = 0;
  #lastRead = -Infinity;

  /** `lost` and `records` read the sampler's and the aggregator's running totals. */
  constructor(lost: () => bigint, records: () => number, ringBytes: number, periodMs = 60_000) {
    this.#lost = lost;
    this.#records = records;
    this.#ringBytes = ringBytes;
    this.#periodMs = periodMs;
  }

  /** Warnings logged so far. */
  get warnings(): number {
    return this.#warnings;
  }

  /**
   * Called on every drain; reads the lost count (a map read per CPU set) at most once a second,
   * and after a warning not before the period has passed.
   */
  check(now = performance.now()): void {
    if (now - this.#lastRead < 1000) return;
    if (this.#warnings > 0 && now - this.#since < this.#periodMs) return;
    this.#lastRead = now;
    const lost = this.#lost();
    if (lost <= this.#lostSeen) return;
    const records = this.#records();
    const seconds = Math.max((now - this.#since) / 1000, 0.001);
    const recordsPerS = Math.round(
      (records - this.#recordsSince + Number(lost - this.#lostSeen)) / seconds,
    );
    log.warn("ring buffer full: charges carried into each task's next record", {
      lost: Number(lost - this.#lostSeen),
      ringBytes: this.#ringBytes,
      recordsPerS,
      suggestedRingBytes: ringBytesFor(recordsPerS),
    });
    this.#warnings++;
    this.#lostSeen = lost;
    this.#since = now;
    this.#recordsSince = records;
  }
}
