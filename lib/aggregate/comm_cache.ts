/** Decodes 16-byte comm fields to strings, once per distinct byte pattern. */

const EMPTY = 0;
const decoder = new TextDecoder();

/**
 * A bounded cache from the four little-endian u32 words of a comm field to its string.
 * The key is the bytes alone: the same bytes always decode to the same string, whichever
 * process carries them, so keying by tgid too would only multiply decodes.
 */
export class CommCache {
  #mask: number;
  #words: Uint32Array;
  #used: Uint8Array;
  #strings: string[];
  #size = 0;
  #bytes = new Uint8Array(16);
  #bytesView = new DataView(this.#bytes.buffer);

  /** `capacity` is rounded up to a power of two; the cache is cleared when half full. */
  constructor(capacity = 4096) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.#mask = cap - 1;
    this.#words = new Uint32Array(cap * 4);
    this.#used = new Uint8Array(cap);
    this.#strings = new Array<string>(cap).fill("");
  }

  /** Distinct comms decoded since the last clear. */
  get size(): number {
    return this.#size;
  }

  /** Returns the string for comm words `w0..w3` (bytes 0–15, little endian), NUL-trimmed. */
  get(w0: number, w1: number, w2: number, w3: number): string {
    let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ w1, 0xc2b2ae35);
    h = Math.imul(h ^ w2, 0x27d4eb2f);
    h = Math.imul(h ^ w3, 0x165667b1);
    let i = (h ^ (h >>> 15)) & this.#mask;
    const words = this.#words;
    while (this.#used[i] !== EMPTY) {
      const k = i * 4;
      if (words[k] === w0 && words[k + 1] === w1 && words[k + 2] === w2 && words[k + 3] === w3) {
        return this.#strings[i];
      }
      i = (i + 1) & this.#mask;
    }
    if (this.#size * 2 >= this.#mask + 1) {
      // pid churn would grow the cache without bound; a rare full clear is cheaper than LRU
      this.#used.fill(EMPTY);
      this.#size = 0;
      return this.get(w0, w1, w2, w3);
    }
    const s = this.#decode(w0, w1, w2, w3);
    const k = i * 4;
    words[k] = w0;
    words[k + 1] = w1;
    words[k + 2] = w2;
    words[k + 3] = w3;
    this.#used[i] = 1;
    this.#strings[i] = s;
    this.#size++;
    return s;
  }

  #decode(w0: number, w1: number, w2: number, w3: number): string {
    const v = this.#bytesView;
    v.setUint32(0, w0, true);
    v.setUint32(4, w1, true);
    v.setUint32(8, w2, true);
    v.setUint32(12, w3, true);
    let n = this.#bytes.indexOf(0);
    if (n < 0) n = 16;
    return decoder.decode(this.#bytes.subarray(0, n));
  }
}
