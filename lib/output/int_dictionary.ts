/**
 * The dictionary of one integer column chunk, built only while it pays: small counters, pids
 * and cgroup ids repeat a few values thousands of times, and bit-packed indexes compress to a
 * fraction of the PLAIN values; a chunk of mostly distinct values gives up early.
 */

// values in [0, SMALL) are looked up in a table, not a Map: most counters are small
const SMALL = 4096;

/** Dictionary ids of up to `capacity` 32- or 64-bit values. */
export class IntDictionary {
  /** per value passed to build(): its id */
  readonly ids: Int32Array;
  /** distinct values after build() */
  size = 0;
  // entries as (low, high) word pairs, the PLAIN layout of INT64 (INT32 uses the low words)
  #entries: Int32Array;
  readonly #small = new Int32Array(SMALL); // id + 1, 0 = absent
  readonly #byLow = new Map<number, number>();

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
    this.#entries = new Int32Array(2 * Math.min(capacity, 1024));
  }

  /**
   * Assigns ids to the first `k` values of `src` (pairs of words when `wide`, else int32s).
   * Returns false, leaving no dictionary, once it would hold more than `maxSize` values or a
   * value it cannot key exactly (two 64-bit values sharing a low word).
   */
  build(src: Int32Array, k: number, wide: boolean, maxSize: number): boolean {
    this.#reset();
    const ids = this.ids, small = this.#small, byLow = this.#byLow;
    const step = wide ? 2 : 1;
    let lastLo = 0, lastHi = 0, lastId = -1;
    for (let i = 0, j = 0; i < k; i++, j += step) {
      const lo = src[j], hi = wide ? src[j + 1] : 0;
      if (lo === lastLo && hi === lastHi && lastId >= 0) {
        ids[i] = lastId;
        continue;
      }
      let id: number;
      if (hi === 0 && lo >= 0 && lo < SMALL) {
        id = small[lo] - 1;
        if (id < 0) {
          if (this.size >= maxSize) return this.#fail();
          id = this.#add(lo, hi);
          small[lo] = id + 1;
        }
      } else {
        const found = byLow.get(lo);
        if (found === undefined) {
          if (this.size >= maxSize) return this.#fail();
          id = this.#add(lo, hi);
          byLow.set(lo, id);
        } else {
          if (this.#entries[2 * found + 1] !== hi) return this.#fail();
          id = found;
        }
      }
      ids[i] = lastId = id;
      lastLo = lo;
      lastHi = hi;
    }
    return true;
  }

  /** The dictionary page body: PLAIN values, 8 bytes each when `wide`, else 4. */
  plain(wide: boolean): Uint8Array {
    const n = this.size, e = this.#entries;
    if (wide) return new Uint8Array(e.buffer, 0, 8 * n);
    const narrow = new Int32Array(n);
    for (let i = 0; i < n; i++) narrow[i] = e[2 * i];
    return new Uint8Array(narrow.buffer);
  }

  #add(lo: number, hi: number): number {
    const id = this.size++;
    if (2 * id + 1 >= this.#entries.length) {
      const grown = new Int32Array(2 * this.#entries.length);
      grown.set(this.#entries);
      this.#entries = grown;
    }
    this.#entries[2 * id] = lo;
    this.#entries[2 * id + 1] = hi;
    return id;
  }

  #fail(): boolean {
    this.#reset();
    return false;
  }

  // Clears only the table slots in use, so a reset costs the dictionary's size, not SMALL.
  #reset(): void {
    const e = this.#entries;
    for (let id = 0; id < this.size; id++) {
      const lo = e[2 * id];
      if (e[2 * id + 1] === 0 && lo >= 0 && lo < SMALL) this.#small[lo] = 0;
    }
    this.#byLow.clear();
    this.size = 0;
  }
}
