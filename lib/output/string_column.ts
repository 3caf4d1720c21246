/**
 * One string column of a row group, dictionary-encoded as rows arrive: a row costs one
 * comparison with the previous value (rows of one pod repeat it) or one Map lookup, never a
 * UTF-8 encoding; only the distinct values are encoded, once per column chunk.
 */
import type { ByteWriter } from "hyparquet-writer";

const utf8 = new TextEncoder();

/** Where the smallest and largest dictionary entries lie in the encoded dictionary page. */
export interface DictionaryBounds {
  min: Uint8Array;
  max: Uint8Array;
}

/** Dictionary indexes of up to `capacity` rows (-1 = NULL) and the chunk's dictionary. */
export class StringColumn {
  /** per row: the value's index in the dictionary, or -1 for NULL */
  readonly indexes: Int32Array;
  /** distinct values in first-seen order: a value's position is its index */
  readonly values: string[] = [];
  /** NULL rows so far */
  nulls = 0;
  /** UTF-16 length of every non-NULL value pushed, for the row group byte bound */
  chars = 0;
  readonly #ids = new Map<string, number>();
  #last: string | null = null;
  #lastId = -1;

  constructor(capacity: number) {
    this.indexes = new Int32Array(capacity);
  }

  /** Records row `i`'s value. */
  push(i: number, value: string | null): void {
    if (value === null) {
      this.indexes[i] = -1;
      this.nulls++;
      return;
    }
    this.chars += value.length;
    if (value === this.#last) {
      this.indexes[i] = this.#lastId;
      return;
    }
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.#ids.set(value, id);
    }
    this.#last = value;
    this.#lastId = id;
    this.indexes[i] = id;
  }

  /**
   * Appends the dictionary as a PLAIN page body (u32 length + UTF-8 bytes per value) to `page`
   * and returns its smallest and largest values in UTF-8 byte order (what Parquet statistics
   * order strings by), or null when the dictionary is empty.
   */
  writeDictionary(page: ByteWriter): DictionaryBounds | null {
    let minAt = -1, minLen = 0, maxAt = -1, maxLen = 0;
    for (const value of this.values) {
      page.ensure(4 + 3 * value.length);
      const at = page.index + 4;
      const { written } = utf8.encodeInto(value, new Uint8Array(page.buffer, at));
      page.view.setUint32(page.index, written, true);
      page.index += 4 + written;
      page.offset += 4 + written;
      const bytes = new Uint8Array(page.buffer);
      if (minAt < 0 || compareBytes(bytes, at, written, minAt, minLen) < 0) {
        minAt = at;
        minLen = written;
      }
      if (maxAt < 0 || compareBytes(bytes, at, written, maxAt, maxLen) > 0) {
        maxAt = at;
        maxLen = written;
      }
    }
    if (minAt < 0) return null;
    // copies: the page buffer is reused for the next chunk
    return {
      min: new Uint8Array(page.buffer, minAt, minLen).slice(),
      max: new Uint8Array(page.buffer, maxAt, maxLen).slice(),
    };
  }

  /** Forgets the rows and the dictionary (a dictionary belongs to one column chunk). */
  clear(): void {
    this.values.length = 0;
    this.#ids.clear();
    this.#last = null;
    this.#lastId = -1;
    this.nulls = 0;
    this.chars = 0;
  }
}

// Unsigned lexicographic order of two byte ranges of one buffer.
function compareBytes(b: Uint8Array, a: number, aLen: number, c: number, cLen: number): number {
  const n = Math.min(aLen, cLen);
  for (let i = 0; i < n; i++) {
    const d = b[a + i] - b[c + i];
    if (d !== 0) return d;
  }
  return aLen - cLen;
}
