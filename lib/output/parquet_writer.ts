/**
 * One Parquet file written crash-safely: rows stream into row groups under a temporary name,
 * each group's metadata is recorded in a sidecar once the group is on disk, and close() writes
 * the footer, fsyncs and publishes the file under its final name. A write failure finishes the
 * file with the row groups already on disk; a kill leaves the temporary file and its sidecar for
 * salvage() at the next start.
 */
import { ByteWriter } from "hyparquet-writer";
import { constants as zlibConstants, crc32, zstdCompressSync } from "node:zlib";
import { basename, dirname, join } from "node:path";
import { ChunkEncoder } from "./column_chunk.ts";
import {
  OutputClosedError,
  OutputConfigError,
  type OutputWriteError,
  writeErrorFrom,
} from "./errors.ts";
import { FooterBuilder, type FooterInfo, serializeRowGroup, writeFileHeader } from "./footer.ts";
import { release } from "./release.ts";
import { RowGroupBuffer } from "./row_group_buffer.ts";
import type { RowBatch } from "./row_batch.ts";
import { groupRecord, headerRecord } from "./sidecar.ts";
import { log } from "../log.ts";
import {
  type Coverage,
  emptyCoverage,
  type FileConfig,
  fileMetadata,
  type OutputRow,
  PARQUET_SCHEMA,
} from "./schema.ts";

/** Options of one file. */
export interface ParquetFileOptions {
  /** final path, `<name>.parquet`; the file is `.<name>.parquet.<owner>.tmp` until close */
  path: string;
  config: FileConfig;
  /** tag of the writing process in the temporary names (see dir_lock.ts); default: this process's */
  owner?: string;
  /** rows per row group (the buffer's capacity) */
  rowGroupRows?: number;
  /** estimated uncompressed bytes after which a row group is flushed early */
  rowGroupBytes?: number;
  /** ZSTD level (1–22) */
  zstdLevel?: number;
  /** more key/value metadata, evaluated when the file is finished */
  extraMetadata?: () => Record<string, string>;
  /** monotonic ms for the age of the row group being built (default performance.now) */
  monoNowMs?: () => number;
}

/** What a completed file holds; passed to the onFileClosed hooks. */
export interface ClosedFileInfo {
  path: string;
  rows: number;
  bytes: number;
  coverage: Coverage;
  /** wall-clock ns (ts) of the first row's slot, null for an empty file */
  firstTsNs: bigint | null;
  /** wall-clock ms when the file was completed */
  closedAtMs: number;
  /**
   * null for a file finished normally; "write-error" when a write failure cut it short at its
   * last whole row group (this writer's rows); "writer-died" when it was finished at start from
   * the sidecar of a writer that died (an earlier run's rows)
   */
  salvaged: null | "write-error" | "writer-died";
}

/** Default rows per row group: ~1.5 MB of buffers, a few seconds of a busy node. */
export const DEFAULT_ROW_GROUP_ROWS = 16_384;
/** Default byte bound of a row group before compression. */
export const DEFAULT_ROW_GROUP_BYTES = 8 << 20;
// hand encoded bytes to the kernel in chunks of this size so the encoder's buffer stays small
const CHUNK_BYTES = 1 << 20;
/** Mode of the files podperf creates: rows name pods and processes, not for every user. */
export const FILE_MODE = 0o640;

/** Owner tag of this process when none is given: random, so a reused pid cannot clash. */
export const PROCESS_OWNER: string = crypto.randomUUID().replaceAll("-", "").slice(0, 8);

/** Temporary name of an incomplete file: hidden, and not matching `*.parquet`. */
export function tmpPathFor(path: string, owner: string = PROCESS_OWNER): string {
  return join(dirname(path), `.${basename(path)}.${owner}.tmp`);
}

/** The row group sidecar of a temporary file (see sidecar.ts). */
export function sidecarPathFor(path: string, owner: string = PROCESS_OWNER): string {
  return join(dirname(path), `.${basename(path)}.${owner}.rowgroups`);
}

/**
 * Creates a file that must not exist yet. O_CREAT|O_EXCL also refuses a symlink planted under
 * the name (POSIX: EEXIST even for a dangling link), which is what O_NOFOLLOW would add, so a
 * writer running as root never writes through a link someone put in the output directory.
 */
export function createExclusive(path: string): Deno.FsFile {
  return Deno.openSync(path, { write: true, createNew: true, mode: FILE_MODE });
}

/**
 * A hyparquet-writer Writer that hands its bytes to a file descriptor as it goes, so memory
 * holds at most one chunk plus one page, not the file.
 */
class FdWriter extends ByteWriter {
  /** CRC-32 of every byte handed to the file so far (the sidecar records it per row group) */
  crc = 0;

  constructor(private readonly file: Deno.FsFile) {
    super(CHUNK_BYTES + (64 << 10));
  }

  override ensure(size: number): void {
    if (this.index > CHUNK_BYTES) this.flush();
    super.ensure(size);
  }

  flush(): void {
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    writeAll(this.file, bytes);
    this.crc = crc32(bytes, this.crc);
    this.index = 0;
  }

  override finish(): void {
    this.flush();
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

/**
 * Writes a footer for `footer`'s row groups at `dataEnd` of `file` (cutting anything after
 * it), fsyncs and closes the file. Shared by close, the write-error path and salvage.
 */
export function writeFooterAt(
  file: Deno.FsFile,
  dataEnd: number,
  footer: FooterBuilder,
  info: FooterInfo,
): number {
  const end = writeFooterUnsynced(file, dataEnd, footer, info);
  file.syncSync();
  return end;
}

// The footer written but not yet durable: close() then waits for the fsync off the thread.
function writeFooterUnsynced(
  file: Deno.FsFile,
  dataEnd: number,
  footer: FooterBuilder,
  info: FooterInfo,
): number {
  file.truncateSync(dataEnd);
  file.seekSync(dataEnd, Deno.SeekMode.Start);
  const out = new ByteWriter(1 << 14);
  footer.write(out, info);
  writeAll(file, out.getBytes());
  return dataEnd + out.offset;
}

/**
 * Publishes a finished temporary file under `path` without ever replacing a file there (link,
 * then unlink the temporary name); when `path` is taken, under `<name>-<owner>.parquet`.
 * Returns the name used.
 */
export function publish(tmp: string, path: string, owner: string): string {
  for (const target of [path, path.replace(/\.parquet$/, `-${owner}.parquet`)]) {
    try {
      Deno.linkSync(tmp, target);
      Deno.removeSync(tmp);
      return target;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) continue;
      throw err;
    }
  }
  throw new Deno.errors.AlreadyExists(`${path} and its owner-tagged name both exist`);
}

// The rename is durable only once the directory entry is on disk.
export function syncDir(dir: string): void {
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch (err) {
    dirSyncFailed(dir, err);
  }
}

/** syncDir() with the fsync waited for off the calling thread. */
export async function syncDirAsync(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch (err) {
    dirSyncFailed(dir, err);
  }
}

function dirSyncFailed(dir: string, err: unknown): void {
  // the file itself is complete and synced; only its directory entry may not survive a crash
  log.throttled("parquet-dir-fsync", "warn", "parquet directory fsync failed", {
    dir,
    error: String(err),
  });
}

/** Writes OutputRows to one Parquet file; nothing appears under the final name before close(). */
export class ParquetFileWriter {
  readonly path: string;
  readonly tmpPath: string;
  readonly sidecarPath: string;
  /** coverage of every row appended so far */
  readonly coverage: Coverage = emptyCoverage();
  readonly #owner: string;
  readonly #config: FileConfig;
  readonly #extra?: () => Record<string, string>;
  readonly #rowGroupBytes: number;
  readonly #buffer: RowGroupBuffer;
  readonly #file: Deno.FsFile;
  readonly #sidecar: Deno.FsFile;
  readonly #out: FdWriter;
  readonly #encoder: ChunkEncoder;
  readonly #footer = new FooterBuilder();
  // the file length and coverage once the last recorded row group was on disk
  #dataEnd = 0;
  #flushed: Coverage = emptyCoverage();
  #firstTsNs: bigint | null = null;
  // open → footer (writeFooter) → closed (publishWhenSynced); failed from any of them
  #state: "open" | "footer" | "closed" | "failed" = "open";
  #footerEnd = 0;
  readonly #now: () => number;
  /** when the row group being built took its first row (null: none buffered) */
  #groupSince: number | null = null;

  /** Creates the temporary file and its sidecar; throws OutputWriteError when it cannot. */
  constructor(opts: ParquetFileOptions) {
    const rowGroupRows = opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1) {
      throw new OutputConfigError("rowGroupRows", `rowGroupRows must be ≥ 1, got ${rowGroupRows}`);
    }
    this.path = opts.path;
    this.#owner = opts.owner ?? PROCESS_OWNER;
    this.tmpPath = tmpPathFor(opts.path, this.#owner);
    this.sidecarPath = sidecarPathFor(opts.path, this.#owner);
    this.#config = opts.config;
    this.#extra = opts.extraMetadata;
    this.#rowGroupBytes = opts.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES;
    this.#now = opts.monoNowMs ?? (() => performance.now());
    this.#buffer = new RowGroupBuffer(rowGroupRows, opts.config);
    try {
      this.#file = createExclusive(this.tmpPath);
    } catch (err) {
      throw writeErrorFrom(err, this.tmpPath, "create", 0);
    }
    let sidecar: Deno.FsFile | null = null;
    try {
      sidecar = createExclusive(this.sidecarPath);
      writeAll(sidecar, headerRecord(this.#footerInfo(null)));
      this.#sidecar = sidecar;
    } catch (err) {
      if (sidecar) closeQuietly(sidecar);
      this.#file.close();
      removeQuietly(this.tmpPath);
      removeQuietly(this.sidecarPath);
      throw writeErrorFrom(err, this.sidecarPath, "create", 0);
    }
    this.#out = new FdWriter(this.#file);
    const params = { [zlibConstants.ZSTD_c_compressionLevel]: opts.zstdLevel ?? 3 };
    // node:zlib has ZSTD since Node 22.15 and Deno implements it: no compressor package needed
    const zstd = (input: Uint8Array) => zstdCompressSync(input, { params });
    this.#encoder = new ChunkEncoder(this.#out, zstd, rowGroupRows);
    writeFileHeader(this.#out);
    this.#dataEnd = 4;
  }

  /** Rows appended so far (buffered or in flushed row groups). */
  get rows(): number {
    return this.coverage.rows;
  }

  /** Monotonic ms since the row group being built took its first row (0 when none is). */
  get groupAgeMs(): number {
    return this.#groupSince === null ? 0 : this.#now() - this.#groupSince;
  }

  /** Encoded bytes so far (header and flushed row groups); buffered rows are not counted. */
  get bytes(): number {
    return this.#out.offset;
  }

  /** Buffers one row; flushes a row group when the buffer is full by rows or bytes. */
  append(row: OutputRow): void {
    if (this.#state !== "open") throw new OutputClosedError(this.path);
    this.#groupSince ??= this.#now();
    this.#buffer.push(row, this.coverage);
    if (this.#buffer.full || this.#buffer.bytes >= this.#rowGroupBytes) this.flushRowGroup();
  }

  /**
   * Buffers rows [from, from + count) of a batch, flushing row groups as they fill. On a write
   * failure throws OutputWriteError; the rows of the batch after the failing group are not
   * taken (the error's rowsLost counts only rows this file took).
   */
  appendBatch(batch: RowBatch, from = 0, count = batch.rows - from): void {
    if (this.#state !== "open") throw new OutputClosedError(this.path);
    const buffer = this.#buffer;
    while (count > 0) {
      const take = Math.min(count, buffer.capacity - buffer.length);
      this.#groupSince ??= this.#now();
      buffer.pushBatch(batch, from, take, this.coverage);
      from += take;
      count -= take;
      if (buffer.full || buffer.bytes >= this.#rowGroupBytes) this.flushRowGroup();
    }
  }

  /** Encodes the buffered rows as one row group, hands them to the kernel, records them. */
  flushRowGroup(): void {
    const n = this.#buffer.length;
    if (n === 0) return;
    if (this.#firstTsNs === null) {
      this.#firstTsNs = this.#buffer.firstMonoNs() + this.#config.monoToWallOffsetNs;
    }
    try {
      const start = this.#out.offset;
      const columns = this.#buffer.encode(this.#encoder);
      // hand the group to the kernel now: memory holds one row group, never the file
      this.#out.flush();
      this.#buffer.clear();
      this.#groupSince = null;
      const thrift = serializeRowGroup(columns, n, start, this.#out.offset);
      const coverage = { ...this.coverage };
      writeAll(
        this.#sidecar,
        groupRecord({
          dataEnd: this.#out.offset,
          crc: this.#out.crc,
          rows: this.#footer.numRows + n,
          coverage,
          thrift,
        }),
      );
      // only now is the group part of the file: a failure above cuts the file before it
      this.#footer.addSerializedRowGroup(thrift, n);
      this.#dataEnd = this.#out.offset;
      this.#flushed = coverage;
    } catch (err) {
      this.#buffer.clear();
      throw this.#finishAfterFailure(err, "write");
    }
  }

  /**
   * Finishes the file: writeFooter(), then publishWhenSynced(). Resolves to what the file holds;
   * on a failure the file is finished with the row groups on disk and the promise rejects with
   * an OutputWriteError whose `completed` names it.
   */
  // deno-lint-ignore require-await -- async so a throw from writeFooter becomes a rejection
  async close(): Promise<ClosedFileInfo> {
    this.writeFooter();
    return this.publishWhenSynced();
  }

  /**
   * Flushes the last row group and writes the footer with the coverage (and extra) metadata,
   * on the calling thread; no rows can be added after. The file is complete but not yet
   * durable: publishWhenSynced() does the rest. Throws OutputWriteError on a failure (the file
   * is then finished with the row groups on disk, see `completed`).
   */
  writeFooter(): void {
    if (this.#state !== "open") throw new OutputClosedError(this.path);
    try {
      // a failed group write finishes the file itself (#finishAfterFailure) and throws that
      this.flushRowGroup();
      this.#footerEnd = writeFooterUnsynced(
        this.#file,
        this.#dataEnd,
        this.#footer,
        this.#footerKv(false),
      );
    } catch (err) {
      // (the state moved inside flushRowGroup, which the compiler cannot see)
      const failed = (this.#state as string) === "failed";
      throw failed ? err : this.#finishAfterFailure(err, "finish");
    }
    this.#state = "footer";
    // the wait for the fsync needs none of the scratch; the next file allocates its own
    this.#release();
  }

  /**
   * After writeFooter(): fsyncs the file, publishes it under its final name and fsyncs the
   * directory, waiting for each fsync off the calling thread. The writer Worker keeps taking
   * rows meanwhile: on a saturated node an fsync waits seconds for its writeback (BENCHMARKS.md,
   * twenty-first pass), longer than the Worker's queue lasts. Rejects with OutputWriteError
   * (the file finished with the row groups on disk, see `completed`) on a failure.
   */
  async publishWhenSynced(): Promise<ClosedFileInfo> {
    if (this.#state !== "footer") throw new OutputClosedError(this.path);
    this.#state = "closed";
    let path: string;
    try {
      await this.#file.sync();
      closeQuietly(this.#file);
      closeQuietly(this.#sidecar);
      path = publish(this.tmpPath, this.path, this.#owner);
    } catch (err) {
      throw this.#finishAfterFailure(err, "finish");
    }
    removeQuietly(this.sidecarPath);
    await syncDirAsync(dirname(path));
    return this.#closedInfo(path, this.#footerEnd, false);
  }

  /**
   * Stops writing without finishing: closes the descriptors and leaves the temporary file and
   * its sidecar for salvage at the next start (shutdown when the writer cannot finish in time).
   */
  abandon(): void {
    if (this.#state !== "open" && this.#state !== "footer") return;
    this.#state = "failed";
    closeQuietly(this.#file);
    closeQuietly(this.#sidecar);
    this.#release();
  }

  #footerInfo(coverage: Coverage | null): FooterInfo {
    const kv = fileMetadata(this.#config, coverage ?? emptyCoverage());
    const info = {
      schema: PARQUET_SCHEMA as FooterInfo["schema"],
      kvMetadata: coverage ? kv : kv.filter((e) => e.key !== "podperf.coverage"),
      createdBy: `podperf version ${this.#config.version}`,
    };
    if (coverage && this.#extra) {
      try {
        for (const [key, value] of Object.entries(this.#extra())) {
          info.kvMetadata.push({ key, value: String(value) });
        }
      } catch (err) {
        log.throttled("parquet-extra-metadata", "warn", "extra file metadata failed", {
          error: String(err),
        });
      }
    }
    return info;
  }

  #footerKv(cutShort: boolean): FooterInfo {
    const kv = this.#footerInfo(this.#flushed);
    if (cutShort) kv.kvMetadata.push({ key: "podperf.salvaged", value: "write-error" });
    return kv;
  }

  #closedInfo(path: string, bytes: number, cutShort: boolean): ClosedFileInfo {
    return {
      path,
      rows: this.#footer.numRows,
      bytes,
      coverage: { ...this.#flushed },
      firstTsNs: this.#firstTsNs,
      closedAtMs: Date.now(),
      salvaged: cutShort ? "write-error" : null,
    };
  }

  // After a failure: footer at the last recorded row group, fsync, link under the final name,
  // drop the sidecar, all on this thread.
  #publishCutShort(): ClosedFileInfo {
    const bytes = writeFooterAt(this.#file, this.#dataEnd, this.#footer, this.#footerKv(true));
    this.#state = "closed";
    closeQuietly(this.#file);
    closeQuietly(this.#sidecar);
    const path = publish(this.tmpPath, this.path, this.#owner);
    removeQuietly(this.sidecarPath);
    syncDir(dirname(path));
    this.#release();
    return this.#closedInfo(path, bytes, true);
  }

  // The scratch of a file that is done (finished, failed or abandoned) is freed at once: the
  // next file allocates the same sizes, and with both alive the Worker's malloc heap grew by
  // ~5 MiB per file until its rare GC ran (BENCHMARKS.md, sixteenth pass).
  #release(): void {
    this.#buffer.release();
    this.#encoder.release();
    release(this.#out.buffer);
  }

  // After a failed write: finish the file with the row groups on disk when there are any (the
  // rows after them are lost), else drop it. If even that fails the temporary file and sidecar
  // stay for salvage at the next start, and every row of the file counts as lost here.
  #finishAfterFailure(err: unknown, action: string): OutputWriteError {
    this.#state = "failed";
    let completed: ClosedFileInfo | null = null;
    if (this.#footer.rowGroups > 0) {
      try {
        completed = this.#publishCutShort();
      } catch (again) {
        closeQuietly(this.#file);
        closeQuietly(this.#sidecar);
        log.throttled("parquet-finish-after-error", "error", "cannot finish the failed file", {
          path: this.tmpPath,
          error: String(again),
        });
      }
    } else {
      closeQuietly(this.#file);
      closeQuietly(this.#sidecar);
      removeQuietly(this.tmpPath);
      removeQuietly(this.sidecarPath);
    }
    const lost = this.coverage.rows - (completed?.rows ?? 0);
    const e = writeErrorFrom(err, this.tmpPath, action, lost);
    e.completed = completed;
    this.#release();
    return e;
  }
}

function closeQuietly(f: Deno.FsFile): void {
  try {
    f.close();
  } catch { /* already closed */ }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* never created or already gone */ }
}
