/**
 * The drain's scheduling priority. A collector at normal priority loses the CPU to a saturated
 * node's runnable tasks exactly when records pour in fastest (32 runnable tasks on 2 CPUs lost
 * 6,811 records, 64 lost half), so the collector asks for real-time priority for all its
 * threads, or failing that a lower nice value.
 *
 * SCHED_RR, not SCHED_FIFO, which it used before: a FIFO thread keeps its CPU from every other
 * thread of its priority until it blocks, so one that spins waiting for such a thread queued
 * behind it waits for ever. Two collectors on one node (a DaemonSet rolling update, or a
 * one-shot `podperf collect` next to the agent) livelocked that way on 2 CPUs: their Parquet
 * Workers spun for minutes, nothing else ran, and neither finished its file (BENCHMARKS.md,
 * eighth pass). Round-robin hands the CPU on within its time slice. Nice −20 alone is fair but
 * not enough: 64 runnable tasks then cost a tenth to a quarter of the records.
 */
import { errno, LIBC, libc } from "../../ffi/libc.ts";
import { errnoName } from "./errors.ts";

/** What raiseDrainPriority obtained. */
export interface DrainPriority {
  /** "rr" (SCHED_RR at `rtPriority`), "nice" (nice `nice`), or "normal" (neither allowed) */
  policy: "rr" | "nice" | "normal";
  /** why the stronger policies were refused, e.g. "SCHED_RR: EPERM" */
  refused: string[];
}

/**
 * Raises the priority of every thread of the process: SCHED_RR priority `rtPriority` (the
 * lowest real-time one by default: it only has to beat normal tasks, and the kernel's RT
 * throttling still leaves others 5%), else nice `nice`. Threads created later inherit their
 * creator's policy and nice value, so the runtime's workers, V8's GC and compiler helpers and
 * the Parquet Worker all get it: the drain's wait returns through a runtime worker, and the JS
 * thread waits on GC helpers, which left at normal priority stalled it for seconds on a
 * saturated node. Without CAP_SYS_NICE (or an RLIMIT allowing it) both fail and the drain stays
 * at normal priority: it then keeps up only while the node has idle time, and a full ring shows
 * up as lost (carried) records in stats.
 */
export function raiseDrainPriority(rtPriority = 1, nice = -20): DrainPriority {
  const refused: string[] = [];
  const param = new Uint8Array(new Int32Array([rtPriority]).buffer);
  if (libc().sched_setscheduler(0, LIBC.SCHED_RR, param) === 0) {
    for (const tid of threads()) libc().sched_setscheduler(tid, LIBC.SCHED_RR, param);
    return { policy: "rr", refused };
  }
  refused.push(`SCHED_RR: ${errnoName(errno())}`);
  // nice is per thread on Linux: setpriority(PRIO_PROCESS, 0) changes the calling one
  if (libc().setpriority(LIBC.PRIO_PROCESS, 0, nice) === 0) {
    for (const tid of threads()) libc().setpriority(LIBC.PRIO_PROCESS, tid, nice);
    return { policy: "nice", refused };
  }
  refused.push(`nice ${nice}: ${errnoName(errno())}`);
  return { policy: "normal", refused };
}

function threads(): number[] {
  return [...Deno.readDirSync("/proc/thread-self/..")].map((t) => Number(t.name)).filter((n) =>
    n > 0
  );
}
