/**
 * Reads a BPF ring buffer straight from its mmap: a consumer page (rw), then the producer page
 * and the data area (ro). The kernel lets the data area be mapped twice back to back so a
 * record that wraps is contiguous (what libbpf does), but every page of a mapping of a ring is
 * resident and counted in RSS: twice over for a double mapping. So it is mapped once, and the
 * rare record that wraps is copied into a scratch buffer. Bounded: each drain reads the
 * producer position once.
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
  readonly #data: Uint8Array;
  /** a wrapping record is reassembled here; records are far smaller than a page */
  readonly #scratch = new Uint8Array(4096);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  #cons: number;
  #wrappedRecords = 0;

  /** Maps the ring of `fd` whose data area is `size` bytes (a power of two). */
  constructor(fd: number, size: number) {
    this.#page = Number(libc().sysconf(LIBC._SC_PAGESIZE));
    this.#size = size;
    this.#mask = size - 1;
    this.#consPtr = map(this.#page, LIBC.PROT_READ | LIBC.PROT_WRITE, fd, 0, "consumer page");
    try {
      this.#prodPtr = map(this.#page + size, LIBC.PROT_READ, fd, this.#page, "data pages");
    } catch (e) {
      this.close();
      throw e;
    }
    const cons = Deno.UnsafePointerView.getArrayBuffer(this.#consPtr, this.#page);
    const prod = Deno.UnsafePointerView.getArrayBuffer(this.#prodPtr, this.#page + size);
    this.#consPos = new BigUint64Array(cons, 0, 1);
    this.#prodPos = new BigUint64Array(prod, 0, 1);
    this.#hdr = new Int32Array(prod);
    this.#view = new DataView(prod);
    this.#data = new Uint8Array(prod, this.#page, size);
    this.#cons = Number(Atomics.load(this.#consPos, 0));
  }

  /** Bytes in the data area. */
  get size(): number {
    return this.#size;
  }

  /** Records that ran past the end of the data area and were reassembled. */
  get wrappedRecords(): number {
    return this.#wrappedRecords;
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
        // 8-byte aligned in a power-of-two area: a header never wraps, a record can
        const hdr = Atomics.load(this.#hdr, (base + idx) >> 2);
        // Still being written: it and everything after it wait for the next drain.
        if (hdr & BUSY_BIT) break;
        const len = hdr & ~(BUSY_BIT | DISCARD_BIT);
        const step = (len + HDR_SIZE + 7) & ~7;
        const at = (idx + HDR_SIZE) & this.#mask;
        cons += step;
        idx = (idx + step) & this.#mask;
        if ((hdr & DISCARD_BIT) === 0) {
          n++;
          if (at + len <= this.#size) onRecord(this.#view, base + at);
          else onRecord(this.#scratchView, this.#wrapped(at, len));
        }
      }
    } finally {
      this.#cons = cons;
      Atomics.store(this.#consPos, 0, BigInt(cons));
    }
    return n;
  }

  /** Copies the record at `at` that runs past the end of the area into the scratch buffer. */
  #wrapped(at: number, len: number): number {
    this.#wrappedRecords++;
    if (len > this.#scratch.length) throw new RangeError(`ring record of ${len} bytes`);
    const head = this.#size - at;
    this.#scratch.set(this.#data.subarray(at, this.#size), 0);
    this.#scratch.set(this.#data.subarray(0, len - head), head);
    return 0;
  }

  /** Unmaps the ring; idempotent. */
  close(): void {
    if (this.#prodPtr !== null) {
      libc().munmap(this.#prodPtr, BigInt(this.#page + this.#size));
      this.#prodPtr = null;
    }
    if (this.#consPtr !== null) {
      libc().munmap(this.#consPtr, BigInt(this.#page));
      this.#consPtr = null;
    }
  }
}
