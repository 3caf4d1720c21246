/** perf_event_open(2) through libc's syscall(): per-CPU counting and sampling events. */

import { errno, libc } from "../../ffi/libc.ts";
import { hostArch } from "../../ffi/arch.ts";
import { PerfEventOpenError } from "./errors.ts";

/** PERF_TYPE_* and PERF_COUNT_* numbers (linux/perf_event.h) podperf uses. */
export const PERF = {
  TYPE_HARDWARE: 0,
  TYPE_SOFTWARE: 1,
  COUNT_HW_CPU_CYCLES: 0,
  COUNT_HW_INSTRUCTIONS: 1,
  COUNT_HW_CACHE_MISSES: 3,
  COUNT_SW_CPU_CLOCK: 0,
  COUNT_SW_TASK_CLOCK: 1,
  COUNT_SW_PAGE_FAULTS: 2,
  COUNT_SW_CONTEXT_SWITCHES: 3,
} as const;

/** The event to open: a counting event, or a sampling one when `samplePeriod` is set. */
export interface PerfEventSpec {
  type: number;
  config: number;
  /** Sampling period (for cpu-clock: ns between overflows). */
  samplePeriod?: bigint;
  /** Do not count (or fire) while the CPU runs its idle task. */
  excludeIdle?: boolean;
  /** read() returns the value, time_enabled and time_running (for readTimeRunning). */
  readTimes?: boolean;
  /** Count only while tasks of this cgroup (an O_RDONLY fd of its cgroup2 dir) run. */
  cgroupFd?: number;
}

// PERF_ATTR_SIZE_VER7; every kernel since 5.x accepts it.
const ATTR_SIZE = 128;
const FLAG_EXCLUDE_IDLE = 1n << 7n;
const PERF_FLAG_FD_CLOEXEC = 8n;
const PERF_FLAG_PID_CGROUP = 4n;
const FORMAT_TOTAL_TIMES = 3n; // PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING
const readBuf = new BigUint64Array(3);
const readBytes = new Uint8Array(readBuf.buffer);

/**
 * Opens `spec` on `cpu` for all tasks (pid -1), or for one cgroup's; returns the fd or throws
 * PerfEventOpenError.
 */
export function perfEventOpen(spec: PerfEventSpec, cpu: number): number {
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, spec.type, true);
  v.setUint32(4, ATTR_SIZE, true);
  v.setBigUint64(8, BigInt(spec.config), true);
  v.setBigUint64(16, spec.samplePeriod ?? 0n, true);
  v.setBigUint64(32, spec.readTimes ? FORMAT_TOTAL_TIMES : 0n, true);
  v.setBigUint64(40, spec.excludeIdle ? FLAG_EXCLUDE_IDLE : 0n, true);
  const ptr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(attr));
  const fd = libc().syscall(
    BigInt(hostArch().sysPerfEventOpen),
    BigInt(ptr),
    spec.cgroupFd === undefined ? -1n : BigInt(spec.cgroupFd),
    BigInt(cpu),
    -1n,
    PERF_FLAG_FD_CLOEXEC | (spec.cgroupFd === undefined ? 0n : PERF_FLAG_PID_CGROUP),
  );
  if (fd < 0n) throw new PerfEventOpenError(spec, cpu, errno());
  return Number(fd);
}

/** Closes a file descriptor opened through libc. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/**
 * time_running of an event opened with `readTimes`, or -1n when it cannot be read. It stops
 * advancing when the event's CPU goes offline, and the event never resumes.
 */
export function readTimeRunning(fd: number): bigint {
  const n = libc().read(fd, readBytes, 24n);
  return n === 24n ? readBuf[2] : -1n;
}
