/**
 * Encodes column chunks straight from typed arrays: PLAIN or RLE_DICTIONARY values in
 * DATA_PAGE_V2 pages, compressed page by page, written to the file as they are made.
 * hyparquet-writer supplies the page headers, the RLE/bit-packing hybrid and the statistics
 * encoding; what it cannot do is take typed arrays without turning every value into a JS
 * object first, which is what this module avoids.
 */
import type { Encoding, PageHeader, SchemaElement } from "hyparquet";
import { CompressionCodecs, Encodings, PageTypes, ParquetTypes } from "hyparquet/src/constants.js";
import { ByteWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { unconvertStatistics } from "hyparquet-writer/src/unconvert.js";
import { IntDictionary } from "./int_dictionary.ts";
import { release } from "./release.ts";
import type { StringColumn } from "./string_column.ts";

/** Rows per data page; a column chunk of more rows is split into several pages. */
export const PAGE_ROWS = 65_536;

/** A Thrift struct in hyparquet-writer's `field_<id>` form. */
export type ThriftObject = { [key: `field_${number}`]: unknown };

/** Compresses one page body (the codec named by the chunk metadata). */
export type Compressor = (bytes: Uint8Array) => Uint8Array;

// Typed arrays are written to the file as they lie in memory: Parquet is little endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("podperf's Parquet writer needs a little-endian CPU");
}

const TWO_32 = 4294967296;
// below this many values a dictionary page costs more than it saves
const MIN_DICTIONARY_VALUES = 64;
const ZSTD = CompressionCodecs.indexOf("ZSTD");

/**
 * Writes column chunks of up to `capacity` rows to `out`; scratch buffers are allocated once
 * and reused, so encoding a row group allocates per column, not per row.
 */
export class ChunkEncoder {
  readonly #out: ByteWriter;
  readonly #compress: Compressor;
  readonly #levels = new ByteWriter(4096);
  readonly #page = new ByteWriter(1 << 16);
  // INT64 values as (low, high) 32-bit word pairs, little endian like the file
  readonly #words: Int32Array;
  readonly #defs: Uint8Array;
  readonly #ids: Int32Array;
  readonly #intDictionary: IntDictionary;

  /** Frees the scratch buffers (lib/output/release.ts), once the file is done with them. */
  release(): void {
    release(this.#words, this.#defs, this.#ids, this.#intDictionary.ids, this.#page.buffer);
  }

  constructor(out: ByteWriter, compress: Compressor, capacity: number) {
    this.#out = out;
    this.#compress = compress;
    this.#words = new Int32Array(2 * capacity);
    this.#defs = new Uint8Array(capacity);
    this.#ids = new Int32Array(capacity);
    this.#intDictionary = new IntDictionary(capacity);
  }

  /**
   * A required INT64 column whose first `n` values are `words` (low, high pairs: a view of a
   * BigInt64Array or BigUint64Array); `unsigned` orders the statistics as UINT_64, and
   * `dictionary` tries a dictionary (worth it for few distinct values, not for timestamps).
   */
  int64(
    el: SchemaElement,
    words: Int32Array,
    n: number,
    opts: { unsigned: boolean; dictionary: boolean },
  ): ThriftObject {
    const { unsigned } = opts;
    let lo = 0, hi = 0;
    // signed order compares the high words as int32; unsigned order as uint32
    const flip = unsigned ? 0x80000000 : 0;
    for (let i = 1; i < n; i++) {
      const h = (words[2 * i + 1] ^ flip) | 0, l = words[2 * i] >>> 0;
      const hLo = (words[2 * lo + 1] ^ flip) | 0, hHi = (words[2 * hi + 1] ^ flip) | 0;
      if (h < hLo || (h === hLo && l < words[2 * lo] >>> 0)) lo = i;
      if (h > hHi || (h === hHi && l > words[2 * hi] >>> 0)) hi = i;
    }
    const stats = n === 0 ? { null_count: 0n } : {
      min_value: wordsToBigInt(words, lo, unsigned),
      max_value: wordsToBigInt(words, hi, unsigned),
      null_count: 0n,
    };
    return this.#ints(el, words, n, n, true, opts.dictionary, stats);
  }

  /**
   * An INT64 column from numbers rounded to the nearest integer (a multiplexed counter may be
   * fractional); NaN is NULL, which only an OPTIONAL column may hold.
   */
  int64FromNumbers(el: SchemaElement, src: Float64Array, n: number): ThriftObject {
    const optional = el.repetition_type === "OPTIONAL";
    const words = this.#words, defs = this.#defs;
    let k = 0, min = Infinity, max = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = src[i];
      if (x !== x) { // NaN
        if (!optional) throw new RangeError(`column ${el.name} is required but row ${i} is NULL`);
        defs[i] = 0;
        continue;
      }
      const v = Math.round(x);
      if (v < min) min = v;
      if (v > max) max = v;
      const h = Math.floor(v / TWO_32);
      words[2 * k] = v - h * TWO_32;
      words[2 * k + 1] = h;
      defs[i] = 1;
      k++;
    }
    const nulls = n - k;
    const stats = k === 0 ? { null_count: BigInt(nulls) } : {
      min_value: BigInt(min),
      max_value: BigInt(max),
      null_count: BigInt(nulls),
    };
    return this.#ints(el, words, n, k, true, true, stats);
  }

  /** A required INT32 column. */
  int32(el: SchemaElement, src: Int32Array, n: number): ThriftObject {
    let min = 0, max = 0;
    if (n > 0) min = max = src[0];
    for (let i = 1; i < n; i++) {
      const x = src[i];
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const stats = n === 0 ? { null_count: 0n } : { min_value: min, max_value: max, null_count: 0n };
    return this.#ints(el, src, n, n, false, true, stats);
  }

  /** A required BOOLEAN column (0/1 per row), RLE-encoded. */
  boolean(el: SchemaElement, src: Uint8Array, n: number): ThriftObject {
    let any = 0, all = 1;
    for (let i = 0; i < n; i++) {
      any |= src[i];
      all &= src[i];
    }
    const stats = n === 0
      ? { null_count: 0n }
      : { min_value: all === 1, max_value: any === 1, null_count: 0n };
    const page = this.#page;
    return this.#chunk(el, n, "RLE", null, (s, e) => {
      resetWriter(page);
      page.appendUint32(0); // byte length of the RLE data, patched below
      const len = writeRleBitPackedHybrid(page, src.subarray(s, e), 1);
      page.view.setUint32(0, len, true);
      return page.getBytes();
    }, stats);
  }

  /** A string column, RLE_DICTIONARY-encoded with the column's own dictionary. */
  strings(el: SchemaElement, col: StringColumn, n: number): ThriftObject {
    const optional = el.repetition_type === "OPTIONAL";
    if (!optional && col.nulls > 0) {
      throw new RangeError(`column ${el.name} is required but holds ${col.nulls} NULLs`);
    }
    const page = this.#page;
    resetWriter(page);
    const bounds = col.writeDictionary(page);
    const dictionary = { bytes: page.getBytes(), count: col.values.length };
    const stats = {
      min_value: bounds?.min,
      max_value: bounds?.max,
      null_count: BigInt(col.nulls),
    };
    const idx = col.indexes, defs = this.#defs, ids = this.#ids;
    const bitWidth = bitWidthOf(col.values.length);
    return this.#chunk(el, n, "RLE_DICTIONARY", dictionary, (s, e) => {
      let k = 0;
      for (let i = s; i < e; i++) {
        const id = idx[i];
        defs[i] = id < 0 ? 0 : 1;
        if (id >= 0) ids[k++] = id;
      }
      resetWriter(page);
      page.appendUint8(bitWidth);
      writeRleBitPackedHybrid(page, ids.subarray(0, k), bitWidth);
      return page.getBytes();
    }, stats);
  }

  // An integer chunk of n rows whose k non-NULL values are src's first k (word pairs when
  // wide); for an OPTIONAL column #defs already marks them. RLE_DICTIONARY when a dictionary
  // of at most k/8 values exists, else PLAIN.
  #ints(
    el: SchemaElement,
    src: Int32Array,
    n: number,
    k: number,
    wide: boolean,
    tryDictionary: boolean,
    stats: Record<string, unknown>,
  ): ThriftObject {
    const defs = this.#defs;
    const optional = el.repetition_type === "OPTIONAL";
    let v = 0; // values consumed by the pages so far
    const take = (s: number, e: number) => {
      const from = v;
      if (!optional) v += e - s;
      else for (let i = s; i < e; i++) v += defs[i];
      return from;
    };
    const dict = this.#intDictionary;
    if (tryDictionary && k >= MIN_DICTIONARY_VALUES && dict.build(src, k, wide, k >> 3)) {
      const ids = dict.ids, page = this.#page;
      const bitWidth = bitWidthOf(dict.size);
      const dictionary = { bytes: dict.plain(wide), count: dict.size };
      return this.#chunk(el, n, "RLE_DICTIONARY", dictionary, (s, e) => {
        const from = take(s, e);
        resetWriter(page);
        page.appendUint8(bitWidth);
        writeRleBitPackedHybrid(page, ids.subarray(from, v), bitWidth);
        return page.getBytes();
      }, stats);
    }
    const width = wide ? 8 : 4;
    const bytes = new Uint8Array(src.buffer, src.byteOffset, width * k);
    return this.#chunk(el, n, "PLAIN", null, (s, e) => {
      const from = take(s, e);
      return bytes.subarray(width * from, width * v);
    }, stats);
  }

  // Writes the dictionary page (if any) and the data pages of rows [0, n); `values(s, e)`
  // returns the encoded non-NULL values of rows [s, e) and fills #defs for them.
  #chunk(
    el: SchemaElement,
    n: number,
    encoding: Encoding,
    dictionary: { bytes: Uint8Array; count: number } | null,
    values: (s: number, e: number) => Uint8Array,
    stats: Record<string, unknown>,
  ): ThriftObject {
    const out = this.#out;
    const start = out.offset;
    let uncompressed = 0;
    let dictionaryOffset: bigint | undefined;
    if (dictionary) {
      dictionaryOffset = BigInt(out.offset);
      uncompressed += this.#dictionaryPage(dictionary.bytes, dictionary.count);
    }
    const dataOffset = BigInt(out.offset);
    const optional = el.repetition_type === "OPTIONAL";
    let pages = 0;
    for (let s = 0; s < n || pages === 0; s += PAGE_ROWS, pages++) {
      const e = Math.min(n, s + PAGE_ROWS);
      const body = values(s, e);
      const levels = this.#levels;
      resetWriter(levels);
      let pageNulls = 0;
      if (optional) {
        for (let i = s; i < e; i++) pageNulls += 1 - this.#defs[i];
        writeRleBitPackedHybrid(levels, this.#defs.subarray(s, e), 1);
      }
      uncompressed += this.#dataPage(levels.getBytes(), body, e - s, pageNulls, encoding);
    }
    const encodings = dictionary ? ["PLAIN", encoding] : [encoding];
    const pageStats = [{
      field_1: PageTypes.indexOf("DATA_PAGE_V2"),
      field_2: code(encoding),
      field_3: pages,
    }];
    if (dictionary) {
      pageStats.unshift({
        field_1: PageTypes.indexOf("DICTIONARY_PAGE"),
        field_2: code("PLAIN"),
        field_3: 1,
      });
    }
    return {
      field_2: BigInt(start), // file_offset
      field_3: { // ColumnMetaData
        field_1: ParquetTypes.indexOf(el.type!),
        field_2: encodings.map((x) => code(x as Encoding)),
        field_3: [el.name],
        field_4: ZSTD,
        field_5: BigInt(n),
        field_6: BigInt(uncompressed),
        field_7: BigInt(out.offset - start),
        field_9: dataOffset,
        field_11: dictionaryOffset,
        field_12: unconvertStatistics(stats, el),
        field_13: pageStats,
      },
    };
  }

  // One DATA_PAGE_V2: header, uncompressed levels, compressed values. Returns its uncompressed size.
  #dataPage(
    levels: Uint8Array,
    body: Uint8Array,
    rows: number,
    nulls: number,
    encoding: Encoding,
  ): number {
    const out = this.#out;
    const compressed = this.#compress(body);
    const headerStart = out.offset;
    writePageHeader(out, {
      type: "DATA_PAGE_V2",
      uncompressed_page_size: levels.length + body.length,
      compressed_page_size: levels.length + compressed.length,
      data_page_header_v2: {
        num_values: rows,
        num_nulls: nulls,
        num_rows: rows,
        encoding,
        definition_levels_byte_length: levels.length,
        repetition_levels_byte_length: 0,
        is_compressed: true,
      },
    } as PageHeader);
    const header = out.offset - headerStart;
    out.appendBytes(levels);
    out.appendBytes(compressed);
    return header + levels.length + body.length;
  }

  #dictionaryPage(body: Uint8Array, count: number): number {
    const out = this.#out;
    const compressed = this.#compress(body);
    const headerStart = out.offset;
    writePageHeader(out, {
      type: "DICTIONARY_PAGE",
      uncompressed_page_size: body.length,
      compressed_page_size: compressed.length,
      dictionary_page_header: { num_values: count, encoding: "PLAIN" },
    } as PageHeader);
    const header = out.offset - headerStart;
    out.appendBytes(compressed);
    return header + body.length;
  }
}

// Bits per dictionary index of a dictionary of `size` values.
function bitWidthOf(size: number): number {
  return size <= 1 ? 0 : 32 - Math.clz32(size - 1);
}

function code(encoding: Encoding): number {
  return Encodings.indexOf(encoding);
}

function resetWriter(w: ByteWriter): void {
  w.index = 0;
  w.offset = 0;
}

function wordsToBigInt(words: Int32Array, i: number, unsigned: boolean): bigint {
  const v = (BigInt(words[2 * i + 1] >>> 0) << 32n) | BigInt(words[2 * i] >>> 0);
  return unsigned ? v : BigInt.asIntN(64, v);
}
