/**
 * The crash-recovery sidecar of a file being written: after each row group reaches the data
 * file, its serialized metadata is appended here. A file whose writer was killed (SIGKILL, OOM)
 * is salvaged from it at the next start: cut at the last recorded row group, footer appended.
 *
 * Records: u32 payload length, u32 CRC-32 of the payload, payload (little endian). A torn or
 * partial last record fails its length or CRC and is ignored. Payload kind 1 (first record):
 * JSON of the schema, created_by and key/value metadata. Kind 2: u32 JSON length, JSON of the
 * data end offset, the CRC-32 of the data up to it, rows and coverage so far, then the
 * RowGroup's Thrift bytes.
 */
import type { KeyValue, SchemaElement } from "hyparquet";
import { crc32 } from "node:zlib";
import type { Coverage } from "./schema.ts";

/** What the sidecar's first record says: everything the footer needs besides row groups. */
export interface SidecarHeader {
  schema: readonly SchemaElement[];
  createdBy: string;
  kvMetadata: KeyValue[];
}

/** One recorded row group. */
export interface SidecarGroup {
  /** file length once this group was written */
  dataEnd: number;
  /**
   * CRC-32 of the file's bytes [0, dataEnd): checked at salvage instead of an fsync per row
   * group, so a power loss that kept the sidecar but not the pages never salvages garbage
   */
  crc: number;
  rows: number;
  /** coverage of all rows up to and including this group */
  coverage: Coverage;
  thrift: Uint8Array;
}

const HEADER = 1, GROUP = 2;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function record(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  out.set(payload, 8);
  return out;
}

/** Encodes the header record. */
export function headerRecord(h: SidecarHeader): Uint8Array {
  const json = utf8.encode(JSON.stringify(h));
  const payload = new Uint8Array(1 + json.length);
  payload[0] = HEADER;
  payload.set(json, 1);
  return record(payload);
}

/** Encodes one row group record. */
export function groupRecord(g: SidecarGroup): Uint8Array {
  const json = utf8.encode(
    JSON.stringify({ dataEnd: g.dataEnd, crc: g.crc, rows: g.rows, coverage: g.coverage }),
  );
  const payload = new Uint8Array(5 + json.length + g.thrift.length);
  payload[0] = GROUP;
  new DataView(payload.buffer).setUint32(1, json.length, true);
  payload.set(json, 5);
  payload.set(g.thrift, 5 + json.length);
  return record(payload);
}

/**
 * Decodes a sidecar; stops at the first incomplete or corrupt record (what a kill mid-write
 * leaves). Returns null when not even the header is whole.
 */
export function readSidecar(
  bytes: Uint8Array,
): { header: SidecarHeader; groups: SidecarGroup[] } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  let header: SidecarHeader | null = null;
  const groups: SidecarGroup[] = [];
  while (off + 8 <= bytes.length) {
    const len = view.getUint32(off, true);
    if (len < 1 || off + 8 + len > bytes.length) break;
    const payload = bytes.subarray(off + 8, off + 8 + len);
    if (crc32(payload) !== view.getUint32(off + 4, true)) break;
    off += 8 + len;
    try {
      if (payload[0] === HEADER && header === null) {
        header = JSON.parse(fromUtf8.decode(payload.subarray(1)));
      } else if (payload[0] === GROUP && header !== null) {
        const jsonLen = new DataView(payload.buffer, payload.byteOffset + 1, 4).getUint32(0, true);
        const meta = JSON.parse(fromUtf8.decode(payload.subarray(5, 5 + jsonLen)));
        groups.push({ ...meta, thrift: payload.slice(5 + jsonLen) });
      } else break;
    } catch {
      break;
    }
  }
  return header ? { header, groups } : null;
}
