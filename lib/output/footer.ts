/**
 * The Parquet footer, built as the file is written: each row group's metadata is serialized
 * to Thrift bytes when the group is flushed and only those bytes are kept (about 1.5 kB per
 * row group), so a file's memory does not grow with the JS objects of its metadata.
 */
import type { KeyValue, SchemaElement } from "hyparquet";
import { ByteWriter } from "hyparquet-writer";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import { serializeTCompactProtocol } from "hyparquet-writer/src/thrift.js";
import type { ThriftObject } from "./column_chunk.ts";

// Thrift compact protocol: header of FileMetaData field 4 (row_groups, delta 1 after
// num_rows) of type LIST, and the element type STRUCT of that list.
const ROW_GROUPS_FIELD = 0x19;
const STRUCT = 12;
const PAR1 = 0x31524150;

/** What the footer says besides the row groups. */
export interface FooterInfo {
  schema: readonly SchemaElement[];
  kvMetadata: KeyValue[];
  createdBy: string;
}

/** Collects serialized row group metadata and writes the FileMetaData and trailer. */
export class FooterBuilder {
  /** rows in the row groups added so far */
  numRows = 0;
  /** row groups added so far */
  rowGroups = 0;
  readonly #groups = new ByteWriter(1 << 14);

  /** Serializes one RowGroup (columns, sizes, row count) and keeps its bytes. */
  addRowGroup(columns: ThriftObject[], rows: number, start: number, end: number): void {
    this.addSerializedRowGroup(serializeRowGroup(columns, rows, start, end), rows);
  }

  /** Adds a row group serialized earlier by addRowGroup() (salvage of a crashed file). */
  addSerializedRowGroup(bytes: Uint8Array, rows: number): void {
    this.#groups.appendBytes(bytes);
    this.numRows += rows;
    this.rowGroups++;
  }

  /**
   * Writes FileMetaData, its length and the closing magic to `out`. hyparquet-writer
   * serializes everything but the row group list, which is spliced in from the kept bytes.
   */
  write(out: ByteWriter, info: FooterInfo): void {
    const leaves = info.schema.filter((e) => e.type).length;
    const full = new ByteWriter(1 << 12);
    writeMetadata(full, {
      version: 2,
      schema: info.schema as SchemaElement[],
      num_rows: BigInt(this.numRows),
      row_groups: [],
      key_value_metadata: info.kvMetadata,
      created_by: info.createdBy,
      metadata_length: 0,
    });
    // writeMetadata ends with the u32 length; before it: ... field 4 = [] | fields 5–7 | STOP
    const meta = full.getBytes().subarray(0, full.offset - 4);
    const empty = new ByteWriter(16);
    serializeTCompactProtocol(empty, { field_1: [] }); // delta 1, like field 4 after field 3
    const emptyList = empty.getBytes().subarray(0, empty.offset - 1);
    // the fields after row_groups, serialized alone: ids 1–3 follow delta-encoded, so after
    // field 4 they read as 5–7
    const tailWriter = new ByteWriter(1 << 10);
    serializeTCompactProtocol(tailWriter, {
      field_1: info.kvMetadata.map((kv) => ({ field_1: kv.key, field_2: kv.value })),
      field_2: info.createdBy,
      field_3: Array.from({ length: leaves }, () => ({ field_1: {} })),
    });
    const tail = tailWriter.getBytes();
    const headLength = meta.length - emptyList.length - tail.length;
    if (
      headLength < 0 ||
      !bytesEqual(meta.subarray(headLength, headLength + emptyList.length), emptyList) ||
      !bytesEqual(meta.subarray(headLength + emptyList.length), tail)
    ) {
      // guards against a hyparquet-writer whose metadata layout differs from the one read here
      throw new Error("unexpected FileMetaData layout from hyparquet-writer");
    }
    const start = out.offset;
    out.appendBytes(meta.subarray(0, headLength));
    out.appendUint8(ROW_GROUPS_FIELD);
    if (this.rowGroups < 15) {
      out.appendUint8(this.rowGroups << 4 | STRUCT);
    } else {
      out.appendUint8(0xf0 | STRUCT);
      out.appendVarInt(this.rowGroups);
    }
    out.appendBytes(this.#groups.getBytes());
    out.appendBytes(tail);
    out.appendUint32(out.offset - start);
    out.appendUint32(PAR1);
  }
}

/**
 * The Thrift bytes of one RowGroup (what the footer keeps and a crash-recovery sidecar
 * stores), serialized apart so a group enters the footer only once it is safely recorded.
 */
export function serializeRowGroup(
  columns: ThriftObject[],
  rows: number,
  start: number,
  end: number,
): Uint8Array {
  let uncompressed = 0n;
  for (const c of columns) {
    uncompressed += (c.field_3 as { field_6: bigint }).field_6;
  }
  const w = new ByteWriter(1 << 12);
  serializeTCompactProtocol(w, {
    field_1: columns,
    field_2: uncompressed, // total_byte_size
    field_3: BigInt(rows),
    field_6: BigInt(end - start), // total_compressed_size
  });
  return w.getBytes().slice();
}

/** The 4-byte magic a Parquet file starts with. */
export function writeFileHeader(out: ByteWriter): void {
  out.appendUint32(PAR1);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
