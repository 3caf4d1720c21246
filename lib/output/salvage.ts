/**
 * Start-up recovery of files whose writer died (SIGKILL, OOM, power loss): each temporary file
 * of a dead owner (dir_lock.ts) is cut at the last row group its sidecar records and finished
 * with a footer, so a kill loses at most the row group being built. Nothing of a live owner is
 * touched, and no symlink in the directory is ever followed.
 */
import { join } from "node:path";
import { log } from "../log.ts";
import { deadOwners, sameFile } from "./dir_lock.ts";
import { FooterBuilder } from "./footer.ts";
import { type ClosedFileInfo, publish, syncDir, writeFooterAt } from "./parquet_writer.ts";
import { coverageMetadata } from "./schema.ts";
import { readSidecar, type SidecarGroup } from "./sidecar.ts";
import { crc32 } from "node:zlib";

/** What salvage found. */
export interface SalvageResult {
  /** files finished from a dead writer's temporary files */
  files: ClosedFileInfo[];
  /** temporary files removed because no row group of theirs was recorded */
  discarded: number;
}

const STAMPED = /^\d{8}T\d{6}\.\d{3}Z-\d{4,}\.parquet$/;

/**
 * Finishes every temporary file left by a dead writer with this prefix in `dir`, publishing
 * each under its final name, and removes the dead writers' lock files.
 */
export function salvageDeadWriters(dir: string, prefix: string): SalvageResult {
  const result: SalvageResult = { files: [], discarded: 0 };
  const dead = deadOwners(dir, prefix);
  if (dead.length === 0) return result;
  const owners = new Map(dead.map((l) => [l.owner, l]));
  const head = `.${prefix}-`;
  const temps: { base: string; owner: string }[] = [];
  const sidecars: { base: string; owner: string }[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const m = /^\.(.+)\.([0-9a-z]+)\.(tmp|rowgroups)$/.exec(entry.name);
    if (!m || !entry.name.startsWith(head) || !owners.has(m[2])) continue;
    if (!STAMPED.test(m[1].slice(prefix.length + 1))) continue;
    (m[3] === "tmp" ? temps : sidecars).push({ base: m[1], owner: m[2] });
  }
  for (const { base, owner } of temps) {
    const tmp = join(dir, `.${base}.${owner}.tmp`);
    const side = join(dir, `.${base}.${owner}.rowgroups`);
    try {
      const info = salvageOne(tmp, side, join(dir, base), owner);
      if (info) {
        result.files.push(info);
        log.warn("salvaged a parquet file left by a writer that died", {
          path: info.path,
          rows: info.rows,
        });
      } else result.discarded++;
    } catch (err) {
      log.error("cannot salvage a parquet file left by a writer that died", {
        path: tmp,
        error: String(err),
      });
    }
  }
  // sidecars whose data file is gone
  for (const { base, owner } of sidecars) removeName(join(dir, `.${base}.${owner}.rowgroups`));
  for (const lock of dead) lock.release();
  syncDir(dir);
  return result;
}

// Finishes one temporary file from its sidecar; null when it held no recorded row group.
function salvageOne(tmp: string, side: string, path: string, owner: string): ClosedFileInfo | null {
  const record = readRegular(side);
  const parsed = record ? readSidecar(record) : null;
  let file: Deno.FsFile | null = null;
  try {
    const st = Deno.lstatSync(tmp);
    if (!st.isFile || !parsed || parsed.groups.length === 0) {
      removeName(tmp);
      removeName(side);
      return null;
    }
    file = Deno.openSync(tmp, { read: true, write: true });
    if (!sameFile(file, tmp)) throw new Error(`${tmp} changed while it was opened`);
    const groups = verifiedGroups(file, parsed.groups);
    if (groups.length === 0) {
      file.close();
      file = null;
      removeName(tmp);
      removeName(side);
      return null;
    }
    const footer = new FooterBuilder();
    let rows = 0;
    for (const g of groups) {
      footer.addSerializedRowGroup(g.thrift, g.rows - rows);
      rows = g.rows;
    }
    const last = groups[groups.length - 1];
    const kv = [
      ...parsed.header.kvMetadata,
      coverageMetadata(last.coverage),
      { key: "podperf.salvaged", value: "writer-died" },
    ];
    const bytes = writeFooterAt(file, last.dataEnd, footer, { ...parsed.header, kvMetadata: kv });
    file.close();
    file = null;
    const published = publish(tmp, path, owner);
    removeName(side);
    return {
      path: published,
      rows,
      bytes,
      coverage: last.coverage,
      firstTsNs: null,
      closedAtMs: Date.now(),
      salvaged: "writer-died",
    };
  } finally {
    file?.close();
  }
}

// The recorded row groups whose bytes are in the file as written: the CRC of [0, dataEnd)
// matches (a power loss may keep the sidecar's records but lose the data pages they describe).
function verifiedGroups(file: Deno.FsFile, groups: SidecarGroup[]): SidecarGroup[] {
  const size = file.statSync().size;
  const ok: SidecarGroup[] = [];
  const buf = new Uint8Array(1 << 20);
  let crc = 0, at = 0;
  file.seekSync(0, Deno.SeekMode.Start);
  for (const g of groups) {
    if (g.dataEnd > size) break;
    while (at < g.dataEnd) {
      const n = file.readSync(buf.subarray(0, Math.min(buf.length, g.dataEnd - at)));
      if (n === null || n === 0) return ok;
      crc = crc32(buf.subarray(0, n), crc);
      at += n;
    }
    if (crc !== g.crc) break;
    ok.push(g);
  }
  return ok;
}

// Reads a file only if it is a regular file (a symlink is never followed), else null.
function readRegular(path: string): Uint8Array | null {
  let file: Deno.FsFile;
  try {
    // lstat first: opening a FIFO planted here would block, a symlink would be followed
    if (!Deno.lstatSync(path).isFile) return null;
    file = Deno.openSync(path, { read: true });
  } catch {
    return null;
  }
  try {
    if (!sameFile(file, path)) return null;
    const size = file.statSync().size;
    const bytes = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = file.readSync(bytes.subarray(off));
      if (n === null || n === 0) break;
      off += n;
    }
    return bytes.subarray(0, off);
  } finally {
    file.close();
  }
}

// Removes a directory entry itself (unlink never follows a symlink).
function removeName(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}
