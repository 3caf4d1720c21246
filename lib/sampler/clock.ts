/** CLOCK_MONOTONIC (the records' clock) and its offset to the wall clock. */

import { LIBC, libc } from "../../ffi/libc.ts";

const ts = new BigInt64Array(2);
const tsBytes = new Uint8Array(ts.buffer);

function read(clock: number): bigint {
  libc().clock_gettime(clock, tsBytes);
  return ts[0] * 1_000_000_000n + ts[1];
}

/** CLOCK_MONOTONIC now in ns: the clock of `bpf_ktime_get_ns` and so of `ts_ns`. */
export function monoNowNs(): bigint {
  return read(LIBC.CLOCK_MONOTONIC);
}

/** CLOCK_REALTIME now in ns. */
export function wallNowNs(): bigint {
  return read(LIBC.CLOCK_REALTIME);
}

/**
 * CLOCK_REALTIME − CLOCK_MONOTONIC in ns, from the mono/wall/mono triple with the smallest gap
 * of `tries`, the wall read paired with the midpoint of its two monotonic reads.
 */
export function measureMonoToWallOffsetNs(tries = 7): bigint {
  let best = 0n;
  let bestGap = -1n;
  for (let i = 0; i < tries; i++) {
    const m1 = read(LIBC.CLOCK_MONOTONIC);
    const w = read(LIBC.CLOCK_REALTIME);
    const m2 = read(LIBC.CLOCK_MONOTONIC);
    const gap = m2 - m1;
    if (bestGap < 0n || gap < bestGap) {
      bestGap = gap;
      best = w - (m1 + gap / 2n);
    }
  }
  return best;
}
