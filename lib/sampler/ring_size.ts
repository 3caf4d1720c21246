/**
 * How big the ring buffer is, from the record rate measured at start. The ring must hold what
 * the CPUs write while the drain is not running. The drain is woken at a quarter full, so a
 * ring holding RING_HOLD_S of records gives it three quarters of that to be scheduled and catch
 * up. A ring that turns out too small costs reserve failures (`lost`), whose charge goes into
 * the task's next record: placement in time is lost, attribution is not.
 */
import { RECORD_SIZE } from "./record.ts";

/** Ring bytes one record takes: the record and the kernel's 8-byte header, 8-aligned. */
export const RING_RECORD_BYTES = (RECORD_SIZE + 8 + 7) & ~7;
/**
 * Seconds of records the ring holds at the measured rate. 16 MiB held 0.2 s at 650 k records/s
 * (64 runnable ping-pong tasks on 2 CPUs) and lost nothing in a 10-minute run (BENCHMARKS.md).
 */
export const RING_HOLD_S = 0.2;
/** Floor: a quiet node at start may get busy; 4 MiB holds 35 k records. */
export const MIN_RING_BYTES = 4 << 20;
/** Ceiling: every page of the ring is resident (RSS) for the agent's lifetime. */
export const MAX_RING_BYTES = 64 << 20;

/** The ring size (a power of two) that holds RING_HOLD_S of `recordsPerS`, clamped. */
export function ringBytesFor(recordsPerS: number): number {
  const need = Math.max(0, recordsPerS) * RING_RECORD_BYTES * RING_HOLD_S;
  let bytes = MIN_RING_BYTES;
  while (bytes < need && bytes < MAX_RING_BYTES) bytes *= 2;
  return bytes;
}

/** The node's context switches so far, from /proc/stat's `ctxt` line. */
export function contextSwitches(procStat = "/proc/stat"): number {
  const m = Deno.readTextFileSync(procStat).match(/^ctxt (\d+)$/m);
  if (!m) throw new Error(`${procStat} has no ctxt line`);
  return Number(m[1]);
}

/**
 * Records per second the sampler would write on this node now: each context switch is at most
 * one record, and each CPU's tick at most one per interval. Measured over `windowMs`.
 */
export async function measureRecordRate(
  cpus: number,
  intervalNs: bigint,
  windowMs = 250,
): Promise<number> {
  const t0 = performance.now();
  const c0 = contextSwitches();
  await new Promise((r) => setTimeout(r, windowMs));
  const switchesPerS = (contextSwitches() - c0) / ((performance.now() - t0) / 1000);
  return Math.round(switchesPerS + cpus * (1e9 / Number(intervalNs)));
}
