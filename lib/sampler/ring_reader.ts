/**
 * Reads a BPF ring buffer straight from its mmap, as the kernel lays it out: a consumer page
 * (rw), then the producer page and the data area mapped twice back to back (ro), so a record
 * that wraps is still contiguous. Bounded: each drain reads the producer position once.
 */

import { errno, LIBC, libc } from "../../ffi/libc.ts";
import { RingMmapError } from "./errors.ts";

const BUSY_BIT = 1 << 31;
const DISCARD_BIT = 1 << 30;
const HDR_SIZE = 8;
const MAP_FAILED = 0xffffffffffffffffn;

/** Called with the view over the data area and the byte offset of one record. */
export type RecordCallback = (view: DataView, offset: number) => void;

function map(len: number, prot: number, fd: number, off: number, what: string): Deno.PointerObject {
  const p = libc().mmap(null, BigInt(len), prot, LIBC.MAP_SHARED, fd, BigInt(off));
  if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) {
    throw new RingMmapError(what, errno());
  }
  return p;
}

/** A consumer over one BPF_MAP_TYPE_RINGBUF map fd. */
export class RingReader {
  readonly #page: number;
  readonly #size: number;
  readonly #mask: number;
  #consPtr: Deno.PointerObject | null;
  #prodPtr: Deno.PointerObject | null = null;
  readonly #consPos: BigUint64Array;
  readonly #prodPos: BigUint64Array;
  readonly #hdr: Int32Array;
  readonly #view: DataView;
  #cons: number;

  /** Maps the ring of `fd` whose data area is `size` bytes (a power of two). */
  constructor(fd: number, size: number) {
    this.#page = Number(libc().sysconf(LIBC._SC_PAGESIZE));
    this.#size = size;
    this.#mask = size - 1;
    this.#consPtr = map(this.#page, LIBC.PROT_READ | LIBC.PROT_WRITE, fd, 0, "consumer page");
    try {
      this.#prodPtr = map(this.#page + 2 * size, LIBC.PROT_READ, fd, this.#page, "data pages");
    } catch (e) {
      this.close();
      throw e;
    }
    const cons = Deno.UnsafePointerView.getArrayBuffer(this.#consPtr, this.#page);
    const prod = Deno.UnsafePointerView.getArrayBuffer(this.#prodPtr, this.#page + 2 * size);
    this.#consPos = new BigUint64Array(cons, 0, 1);
    this.#prodPos = new BigUint64Array(prod, 0, 1);
    this.#hdr = new Int32Array(prod);
    this.#view = new DataView(prod);
    this.#cons = Number(Atomics.load(this.#consPos, 0));
  }

  /** Bytes written by the producer and not yet consumed. */
  pendingBytes(): number {
    if (this.#prodPtr === null) return 0; // unmapped: reading the position would fault
    return Number(Atomics.load(this.#prodPos, 0)) - this.#cons;
  }

  /**
   * Hands each committed record up to the producer position read at entry (and at most
   * `maxRecords`) to `onRecord`, then releases their space. Returns the records handed over.
   */
  drain(onRecord: RecordCallback, maxRecords = Infinity): number {
    if (this.#prodPtr === null) return 0;
    const prod = Number(Atomics.load(this.#prodPos, 0));
    const base = this.#page;
    let cons = this.#cons;
    let idx = cons % this.#size;
    let n = 0;
    try {
      while (cons < prod && n < maxRecords) {
        const off = base + idx;
        const hdr = Atomics.load(this.#hdr, off >> 2);
        // Still being written: it and everything after it wait for the next drain.
        if (hdr & BUSY_BIT) break;
        const step = ((hdr & ~DISCARD_BIT) + HDR_SIZE + 7) & ~7;
        cons += step;
        idx = (idx + step) & this.#mask;
        if ((hdr & DISCARD_BIT) === 0) {
          n++;
          onRecord(this.#view, off + HDR_SIZE);
        }
      }
    } finally {
      this.#cons = cons;
      Atomics.store(this.#consPos, 0, BigInt(cons));
    }
    return n;
  }

  /** Unmaps the ring; idempotent. */
  close(): void {
    if (this.#prodPtr !== null) {
      libc().munmap(this.#prodPtr, BigInt(this.#page + 2 * this.#size));
      this.#prodPtr = null;
    }
    if (this.#consPtr !== null) {
      libc().munmap(this.#consPtr, BigInt(this.#page));
      this.#consPtr = null;
    }
  }
}
