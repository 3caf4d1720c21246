/**
 * Says when the ring buffer overflowed, at most once per period: how many records could not be
 * reserved (their charge went into the task's next record), the record rate over the period,
 * and the ring that would hold RING_HOLD_S of that rate (`--ring-size`).
 */
import { log } from "../log.ts";
import { ringBytesFor } from "../sampler/mod.ts";

/** What a RingWatch reads and when its first period began. */
export interface RingWatchOptions {
  /** The sampler's running total of records that found the ring full. */
  lost: () => bigint;
  /** The aggregator's running total of records drained. */
  records: () => number;
  ringBytes: number;
  /**
   * performance.now() when the sampler attached: losses count from there, so the first rate is
   * over the time they took, not over the moments before the first drain.
   */
  since: number;
  periodMs?: number;
}

export class RingWatch {
  readonly #lost: () => bigint;
  readonly #records: () => number;
  readonly #ringBytes: number;
  readonly #periodMs: number;
  #lostSeen = 0n;
  #since: number;
  #recordsSince = 0;
  #warnings = 0;
  #lastRead: number;

  constructor(opts: RingWatchOptions) {
    this.#lost = opts.lost;
    this.#records = opts.records;
    this.#ringBytes = opts.ringBytes;
    this.#periodMs = opts.periodMs ?? 60_000;
    this.#since = opts.since;
    // The first read waits a second too: a rate over a few ms of start-up would be noise.
    this.#lastRead = opts.since;
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
