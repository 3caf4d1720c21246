/**
 * Frees memory now rather than at the isolate's next GC. The writer Worker allocates little on
 * its JS heap, so its GCs are rare, and the large blocks behind typed arrays it no longer needs
 * (batches it has copied, a finished file's scratch) piled up in malloc's heaps meanwhile
 * (BENCHMARKS.md, sixteenth pass). lib/malloc.ts then gives those heaps' free pages back.
 */

/** Detaches the buffers of `arrays` (their memory is freed); nothing may use them after. */
export function release(...arrays: (ArrayBufferView | ArrayBuffer)[]): void {
  for (const a of arrays) {
    const buffer = a instanceof ArrayBuffer ? a : a.buffer;
    if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
  }
}
