/**
 * Frees memory now rather than at the isolate's next GC. The writer Worker allocates little on
 * its JS heap, so its GCs are rare, and the large blocks behind typed arrays it no longer needs
 * (batches it has copied, a finished file's scratch) piled up in malloc's heaps meanwhile
 * (BENCHMARKS.md, sixteenth pass).
 */

import { libc } from "../../ffi/libc.ts";
import { log } from "../log.ts";

let trimmable: boolean | undefined;

/**
 * Gives malloc's free pages back to the kernel (glibc `malloc_trim(0)`, every arena). Freed
 * blocks otherwise stay in the process: a finished file's scratch, freed, left its Worker arena
 * and the main heap a little larger at each rotation, ~1 MiB a minute in the agent soak
 * (BENCHMARKS.md, seventeenth pass). Called once per finished file, so its cost (a walk of the
 * arenas' free lists) does not matter. False where there is no glibc to ask.
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

/** Detaches the buffers of `arrays` (their memory is freed); nothing may use them after. */
export function release(...arrays: (ArrayBufferView | ArrayBuffer)[]): void {
  for (const a of arrays) {
    const buffer = a instanceof ArrayBuffer ? a : a.buffer;
    if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
  }
}
