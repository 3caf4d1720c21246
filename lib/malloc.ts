/**
 * How the agent uses glibc's malloc: heaps that grow in large steps and keep headroom, and freed
 * memory given back once per finished file.
 *
 * Why large steps: every time a malloc heap grows or shrinks, the process's memory map changes
 * (`brk` for the main heap, `mprotect` for the other arenas) under the map's write lock and the
 * heap's anon_vma lock. Kernel threads that walk reverse mappings (DAMON's kdamond on this VM;
 * kswapd, kcompactd and khugepaged elsewhere) take that anon_vma lock at normal priority, and on
 * a saturated node they lose the CPU while holding it. The drain thread, real-time or not, then
 * waits in `brk` with the map locked, and so does every thread of the agent that changes the
 * map next. Under 64 runnable tasks the drain sat in `brk` for 0.5–1.3 s while kdamond,
 * runnable but not running, held the lock in `rmap_walk_anon`, and the ring overflowed
 * (BENCHMARKS.md, twentieth pass). Memory the heaps keep mapped but never touch costs nothing;
 * what they keep touched and free is bounded by trim_threshold.
 */

import { LIBC, libc } from "../ffi/libc.ts";
import { log } from "./log.ts";

/**
 * The malloc parameters the agent runs with, by their glibc tunable names (`mallopt` takes the
 * same values). Setting any of them turns off glibc's own adjustment of the thresholds.
 */
export const MALLOC_SETTINGS = {
  // A heap grows by at least this much (an arena's first heap starts with it): more than the
  // drain's burst at a storm's onset (4.4 MiB). Pages of it never touched cost no memory.
  top_pad: 8 << 20,
  // free() trims a heap when this much lies free at its top, down to top_pad: so a heap keeps
  // at most this much free and touched (glibc's adaptive rule keeps twice the mmap threshold).
  trim_threshold: 8 << 20,
  // Blocks below this come from the heaps, not from an mmap of their own: glibc's adaptive
  // ceiling, which it would otherwise reach by itself as large blocks are freed.
  mmap_threshold: 32 << 20,
} as const;

/** MALLOC_SETTINGS as the environment variable that applies them from the process's start. */
export const GLIBC_TUNABLES = Object.entries(MALLOC_SETTINGS)
  .map(([name, value]) => `glibc.malloc.${name}=${value}`)
  .join(":");

/** Where the process's malloc parameters came from. */
export interface MallocHeadroom {
  /**
   * "environment": GLIBC_TUNABLES at launch set them, in every arena from the start;
   * "mallopt": set now, so arenas of threads that allocated before (the runtime's, V8's helpers)
   * keep growing in page-sized steps; "none": no glibc to ask (musl) or no FFI permission.
   */
  source: "environment" | "mallopt" | "none";
  /** the GLIBC_TUNABLES value that was found, or why mallopt failed */
  detail?: string;
}

/**
 * Gives the process MALLOC_SETTINGS unless its environment already sets malloc's pad or
 * thresholds (ours from a launch path, or the user's own, which win). Call before the
 * threads that should get headroom from their first allocation are started.
 */
export function holdMallocHeadroom(
  tunables = Deno.env.get("GLIBC_TUNABLES") ?? "",
): MallocHeadroom {
  const names = Object.keys(MALLOC_SETTINGS).map((n) => `glibc.malloc.${n}=`);
  if (tunables.split(":").some((t) => names.some((n) => t.startsWith(n)))) {
    return { source: "environment", detail: tunables };
  }
  try {
    const c = libc();
    const failed = [
      ["M_TOP_PAD", c.mallopt(LIBC.M_TOP_PAD, MALLOC_SETTINGS.top_pad)],
      ["M_TRIM_THRESHOLD", c.mallopt(LIBC.M_TRIM_THRESHOLD, MALLOC_SETTINGS.trim_threshold)],
      ["M_MMAP_THRESHOLD", c.mallopt(LIBC.M_MMAP_THRESHOLD, MALLOC_SETTINGS.mmap_threshold)],
    ].filter(([, ok]) => ok !== 1).map(([name]) => name);
    if (failed.length) return { source: "none", detail: `mallopt refused ${failed.join(", ")}` };
    return { source: "mallopt" };
  } catch (e) {
    return { source: "none", detail: String(e) };
  }
}

/** What the writer Worker reserves in its arena: above the 17 MiB it reached, below 32 MiB. */
export const WORKER_ARENA_BYTES = 24 << 20;

/**
 * Maps `bytes` into the calling thread's malloc arena now, so that the arena grows no further
 * up to that size: an arena other than the main heap keeps its mapping when it is trimmed
 * (glibc gives the pages back with madvise), so only its first growth changes the memory map.
 * For the writer Worker, whose arena grows with its first file (17 MiB in a 64-task storm's
 * first 20 s, in 175 `mprotect` calls). The block is never written, so it costs no memory.
 * Not for the main thread: its heap shrinks again with `brk`. Without glibc it does nothing
 * (trimMalloc then says once that malloc cannot be reached).
 */
export function reserveArena(bytes: number): void {
  try {
    libc().free(libc().malloc(BigInt(bytes)));
  } catch { /* no glibc: trimMalloc reports it */ }
}

let trimmable: boolean | undefined;

/**
 * Gives malloc's free pages back to the kernel (glibc `malloc_trim(0)`, every arena). Freed
 * blocks otherwise stay in the process: a finished file's scratch, freed, left its Worker arena
 * and the main heap a little larger at each rotation, ~1 MiB a minute in the agent soak
 * (BENCHMARKS.md, seventeenth pass). It shrinks the main heap to nothing, so the drain's next
 * burst grows it again with one `brk` (of at least top_pad): with top_pad kept there instead,
 * two agent soaks peaked at 143.1 and 146.0 MiB, against 138.5 and 139.2 before (BENCHMARKS.md,
 * twentieth pass). Called once per finished file, so its cost (a walk of the arenas' free
 * lists) does not matter. False where there is no glibc to ask.
 */
export function trimMalloc(): boolean {
  if (trimmable === false) return false;
  try {
    libc().malloc_trim(0n);
    trimmable = true;
  } catch (e) {
    // no libc.so.6 (musl) or no FFI permission: said once, and the writer goes on without it
    trimmable = false;
    log.warn("cannot give freed memory back (malloc_trim); RSS may creep", { error: String(e) });
  }
  return trimmable;
}
