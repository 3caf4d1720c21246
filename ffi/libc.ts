/** The one table of libc symbols podperf calls through Deno FFI. */

const SYMBOLS = {
  // syscall(2) with fixed i64 arguments: enough for perf_event_open, which libc does not wrap.
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  sysconf: { parameters: ["i32"], result: "i64" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  // on a worker thread: the JS loop keeps running while it waits
  epoll_wait_nonblocking: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  // glibc: gives the free pages of every malloc arena back to the kernel
  malloc_trim: { parameters: ["usize"], result: "i32" },
  // glibc: sets one of malloc's parameters (M_TOP_PAD and the two thresholds)
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  malloc: { parameters: ["usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** Opens libc once per process and returns its symbols. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** Numbers podperf needs from libc headers: the same on every architecture in ffi/arch.ts. */
export const LIBC = {
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  CLOCK_REALTIME: 0,
  CLOCK_MONOTONIC: 1,
  _SC_PAGESIZE: 30,
  O_RDONLY: 0,
  O_DIRECTORY: 0o200000,
  O_CLOEXEC: 0o2000000,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLLIN: 1,
  EPOLLET: 1 << 31,
  PRIO_PROCESS: 0,
  SCHED_RR: 2,
  M_TRIM_THRESHOLD: -1,
  M_TOP_PAD: -2,
  M_MMAP_THRESHOLD: -3,
} as const;
