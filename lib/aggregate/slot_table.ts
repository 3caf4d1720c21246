/**
 * The open (slot, tgid, cgroup id) entries of the aggregator: struct-of-arrays storage and an
 * open-addressing index, so adding a record touches typed arrays only.
 */

import { COUNTER_MASK, NR_COUNTERS } from "../sampler/counter_table.ts";

const INITIAL_CAPACITY = 1024;

function hashKey(slot: number, tgid: number, cgLo: number, cgHi: number): number {
  let h = Math.imul(tgid ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ cgLo, 0xc2b2ae35);
  h = Math.imul(h ^ cgHi, 0x27d4eb2f);
  h = Math.imul(h ^ (slot | 0), 0x165667b1);
  return h ^ (h >>> 15);
}

/**
 * Entries stored densely at 0..size-1. Closing removes whole slots at once, so instead of
 * tombstones the survivors are compacted to the front and the index rebuilt.
 * Array fields are replaced when the table grows: re-read them after `findOrInsert`.
 */
export class SlotTable {
  /** live entries */
  size = 0;
  /** slot number (slot start / interval, relative to the aggregator's base) */
  slot: Float64Array;
  tgid: Uint32Array;
  /** cgroup id, low and high 32 bits */
  cgLo: Uint32Array;
  cgHi: Uint32Array;
  /** comm of the first record, four little-endian u32 words per entry */
  comm: Uint32Array;
  cpuNs: Float64Array;
  /** run-queue wait ns inside the slot, and the waits that ended in it */
  runqNs: Float64Array;
  runqWaits: Uint32Array;
  /** OR of the records' carried flags */
  carried: Uint8Array;
  /** NR_COUNTERS sums per entry */
  counters: Float64Array;
  /** AND of the records' valid bits (flags bits 0..NR_COUNTERS-1) */
  valid: Uint8Array;
  /** OR of the records' scaled bits (flags bits 8.., shifted down) */
  scaled: Uint8Array;
  records: Uint32Array;
  #index: Int32Array;
  #mask: number;

  /** An empty table; it grows by doubling as entries are added. */
  constructor(capacity = INITIAL_CAPACITY) {
    this.slot = new Float64Array(capacity);
    this.tgid = new Uint32Array(capacity);
    this.cgLo = new Uint32Array(capacity);
    this.cgHi = new Uint32Array(capacity);
    this.comm = new Uint32Array(capacity * 4);
    this.cpuNs = new Float64Array(capacity);
    this.runqNs = new Float64Array(capacity);
    this.runqWaits = new Uint32Array(capacity);
    this.carried = new Uint8Array(capacity);
    this.counters = new Float64Array(capacity * NR_COUNTERS);
    this.valid = new Uint8Array(capacity);
    this.scaled = new Uint8Array(capacity);
    this.records = new Uint32Array(capacity);
    this.#index = new Int32Array(capacity * 2);
    this.#mask = capacity * 2 - 1;
  }

  /** Entries the arrays can hold before the next growth. */
  get capacity(): number {
    return this.slot.length;
  }

  /**
   * Index of the entry for (slot, tgid, cgroup), created empty if absent; a new entry takes
   * its comm from the 16 bytes at `commOff` in `view`.
   */
  findOrInsert(
    slot: number,
    tgid: number,
    cgLo: number,
    cgHi: number,
    view: DataView,
    commOff: number,
  ): number {
    let i = hashKey(slot, tgid, cgLo, cgHi) & this.#mask;
    const index = this.#index;
    for (;;) {
      const e = index[i] - 1;
      if (e < 0) break;
      if (
        this.slot[e] === slot && this.tgid[e] === tgid && this.cgLo[e] === cgLo &&
        this.cgHi[e] === cgHi
      ) return e;
      i = (i + 1) & this.#mask;
    }
    if (this.size === this.capacity) {
      this.#grow();
      return this.findOrInsert(slot, tgid, cgLo, cgHi, view, commOff);
    }
    const e = this.size++;
    index[i] = e + 1;
    this.slot[e] = slot;
    this.tgid[e] = tgid;
    this.cgLo[e] = cgLo;
    this.cgHi[e] = cgHi;
    const c = e * 4;
    this.comm[c] = view.getUint32(commOff, true);
    this.comm[c + 1] = view.getUint32(commOff + 4, true);
    this.comm[c + 2] = view.getUint32(commOff + 8, true);
    this.comm[c + 3] = view.getUint32(commOff + 12, true);
    this.cpuNs[e] = 0;
    this.runqNs[e] = 0;
    this.runqWaits[e] = 0;
    this.carried[e] = 0;
    this.counters.fill(0, e * NR_COUNTERS, e * NR_COUNTERS + NR_COUNTERS);
    this.valid[e] = COUNTER_MASK;
    this.scaled[e] = 0;
    this.records[e] = 0;
    return e;
  }

  /**
   * Indices of the entries with slot < `before`, ordered by slot, then by creation (the
   * order their first record arrived: compaction keeps survivors in order).
   */
  indicesBefore(before: number): Uint32Array {
    let n = 0, min = Infinity;
    for (let e = 0; e < this.size; e++) {
      const s = this.slot[e];
      if (s < before) {
        n++;
        if (s < min) min = s;
      }
    }
    // one numeric key per entry, (slot − min) · capacity + index, so the native typed-array
    // sort orders them with no comparator calls
    const cap = this.capacity;
    const keys = new Float64Array(n);
    for (let e = 0, k = 0; e < this.size; e++) {
      if (this.slot[e] < before) keys[k++] = (this.slot[e] - min) * cap + e;
    }
    keys.sort();
    const out = new Uint32Array(n);
    for (let k = 0; k < n; k++) out[k] = keys[k] % cap;
    return out;
  }

  /** Drops the entries with slot < `before` (after their rows were built). */
  removeBefore(before: number): void {
    let w = 0;
    for (let e = 0; e < this.size; e++) {
      if (this.slot[e] < before) continue;
      if (w !== e) this.#move(e, w);
      w++;
    }
    this.size = w;
    this.#reindex();
  }

  /** The smallest slot held, or Infinity when empty. */
  minSlot(): number {
    let m = Infinity;
    for (let e = 0; e < this.size; e++) if (this.slot[e] < m) m = this.slot[e];
    return m;
  }

  /** The largest slot held, or -Infinity when empty. */
  maxSlot(): number {
    let m = -Infinity;
    for (let e = 0; e < this.size; e++) if (this.slot[e] > m) m = this.slot[e];
    return m;
  }

  #move(from: number, to: number): void {
    this.slot[to] = this.slot[from];
    this.tgid[to] = this.tgid[from];
    this.cgLo[to] = this.cgLo[from];
    this.cgHi[to] = this.cgHi[from];
    this.comm.copyWithin(to * 4, from * 4, from * 4 + 4);
    this.cpuNs[to] = this.cpuNs[from];
    this.runqNs[to] = this.runqNs[from];
    this.runqWaits[to] = this.runqWaits[from];
    this.carried[to] = this.carried[from];
    this.counters.copyWithin(
      to * NR_COUNTERS,
      from * NR_COUNTERS,
      from * NR_COUNTERS + NR_COUNTERS,
    );
    this.valid[to] = this.valid[from];
    this.scaled[to] = this.scaled[from];
    this.records[to] = this.records[from];
  }

  #grow(): void {
    const cap = this.capacity * 2;
    const grown = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.slot = grown(this.slot, cap);
    this.tgid = grown(this.tgid, cap);
    this.cgLo = grown(this.cgLo, cap);
    this.cgHi = grown(this.cgHi, cap);
    this.comm = grown(this.comm, cap * 4);
    this.cpuNs = grown(this.cpuNs, cap);
    this.runqNs = grown(this.runqNs, cap);
    this.runqWaits = grown(this.runqWaits, cap);
    this.carried = grown(this.carried, cap);
    this.counters = grown(this.counters, cap * NR_COUNTERS);
    this.valid = grown(this.valid, cap);
    this.scaled = grown(this.scaled, cap);
    this.records = grown(this.records, cap);
    this.#index = new Int32Array(cap * 2);
    this.#mask = cap * 2 - 1;
    this.#reindex();
  }

  #reindex(): void {
    const index = this.#index;
    index.fill(0);
    for (let e = 0; e < this.size; e++) {
      let i = hashKey(this.slot[e], this.tgid[e], this.cgLo[e], this.cgHi[e]) & this.#mask;
      while (index[i] !== 0) i = (i + 1) & this.#mask;
      index[i] = e + 1;
    }
  }
}
