/** A growable FIFO of bytes for stream reassembly, without per-read allocation. */

/** Bytes appended at the tail and consumed from the head; views stay valid until the next push. */
export class ByteQueue {
  #buf: Uint8Array;
  #initial: number;
  #head = 0;
  #tail = 0;

  constructor(initialCapacity = 65536) {
    this.#buf = new Uint8Array(initialCapacity);
    this.#initial = initialCapacity;
  }

  /** Bytes allocated now. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Number of unconsumed bytes. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /** Appends a copy of `bytes`, compacting or growing the buffer as needed. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#tail + bytes.length > this.#buf.length) {
      const live = this.#tail - this.#head;
      if (live + bytes.length <= this.#buf.length && this.#head > 0) {
        this.#buf.copyWithin(0, this.#head, this.#tail);
      } else {
        let cap = this.#buf.length * 2;
        while (cap < live + bytes.length) cap *= 2;
        const next = new Uint8Array(cap);
        next.set(this.#buf.subarray(this.#head, this.#tail));
        this.#buf = next;
      }
      this.#head = 0;
      this.#tail = live;
    }
    this.#buf.set(bytes, this.#tail);
    this.#tail += bytes.length;
  }

  /** Reads a big-endian u32 at `offset` bytes past the head (caller checks length). */
  u32(offset: number): number {
    const b = this.#buf, i = this.#head + offset;
    return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  }

  /** Reads a byte at `offset` bytes past the head (caller checks length). */
  u8(offset: number): number {
    return this.#buf[this.#head + offset];
  }

  /** A view of `n` bytes starting `offset` past the head; valid until the next push. */
  view(offset: number, n: number): Uint8Array {
    const start = this.#head + offset;
    return this.#buf.subarray(start, start + n);
  }

  /** Drops `n` bytes from the head. */
  consume(n: number): void {
    this.#head += n;
    if (this.#head === this.#tail) {
      this.#head = this.#tail = 0;
      // One 16 MiB Synchronize must not pin 32 MiB for the rest of the session.
      if (this.#buf.length > 4 * this.#initial) this.#buf = new Uint8Array(this.#initial);
    }
  }

  /** Forgets everything buffered. */
  clear(): void {
    this.#head = this.#tail = 0;
  }
}
