/**
 * The drain's scheduling priority. A collector at normal priority loses the CPU to a saturated
 * node's runnable tasks exactly when records pour in fastest (32 runnable tasks on 2 CPUs lost
 * 6,811 records, 64 lost half), so the collector asks for SCHED_FIFO for all its threads,
 * or failing that a lower nice value for the calling (JS) thread.
 */
import { errno, LIBC, libc } from "../../ffi/libc.ts";
import { errnoName } from "./errors.ts";

/** What raiseDrainPriority obtained. */
export interface DrainPriority {
  /** "fifo" (SCHED_FIFO at `fifoPriority`), "nice" (nice `nice`), or "normal" (neither allowed) */
  policy: "fifo" | "nice" | "normal";
  /** why the stronger policies were refused, e.g. "SCHED_FIFO: EPERM" */
  refused: string[];
}

/**
 * Raises the process's scheduling priority: SCHED_FIFO priority `fifoPriority` (the
 * lowest real-time one by default: it only has to beat normal tasks, and the kernel's RT
 * throttling still leaves others 5%), else nice `nice`. Without CAP_SYS_NICE (or an RLIMIT
 * allowing it) both fail and the drain stays at normal priority: it then keeps up only while
 * the node has idle time, and a full ring shows up as lost (carried) records in stats.
 */
export function raiseDrainPriority(fifoPriority = 1, nice = -10): DrainPriority {
  const refused: string[] = [];
  const param = new Int32Array([fifoPriority]);
  if (libc().sched_setscheduler(0, LIBC.SCHED_FIFO, new Uint8Array(param.buffer)) === 0) {
    // The drain's wait returns through a runtime worker thread, and the JS thread waits on
    // GC helper threads: left at normal priority on a saturated node they stall it for
    // seconds. Threads created later inherit the policy of the thread that creates them.
    for (const t of Deno.readDirSync("/proc/thread-self/..")) {
      const tid = Number(t.name);
      if (tid > 0) libc().sched_setscheduler(tid, LIBC.SCHED_FIFO, new Uint8Array(param.buffer));
    }
    return { policy: "fifo", refused };
  }
  refused.push(`SCHED_FIFO: ${errnoName(errno())}`);
  if (libc().setpriority(LIBC.PRIO_PROCESS, 0, nice) === 0) return { policy: "nice", refused };
  refused.push(`nice ${nice}: ${errnoName(errno())}`);
  return { policy: "normal", refused };
}
