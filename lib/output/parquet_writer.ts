/**
 * One Parquet file written crash-safely: rows stream into row groups under a temporary name;
 * close() writes the footer, fsyncs and renames the file to its final name.
 */
import { ByteWriter } from "hyparquet-writer";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { basename, dirname, join } from "node:path";
import { ChunkEncoder } from "./column_chunk.ts";
import { OutputClosedError, OutputConfigError, writeErrorFrom } from "./errors.ts";
import { FooterBuilder, writeFileHeader } from "./footer.ts";
import { RowGroupBuffer } from "./row_group_buffer.ts";
import { log } from "../log.ts";
import {
  type Coverage,
  type FileConfig,
  fileMetadata,
  type OutputRow,
  PARQUET_SCHEMA,
} from "./schema.ts";

/** Options of one file. */
export interface ParquetFileOptions {
  /** final path, `<name>.parquet`; the file lives at `.<name>.parquet.tmp` beside it until close */
  path: string;
  config: FileConfig;
  /** rows per row group (the buffer's capacity) */
  rowGroupRows?: number;
  /** estimated uncompressed bytes after which a row group is flushed early */
  rowGroupBytes?: number;
  /** ZSTD level (1–22) */
  zstdLevel?: number;
}

/** What a completed file holds; passed to RotatingParquetWriter's onFileClosed hook. */
export interface ClosedFileInfo {
  path: string;
  rows: number;
  bytes: number;
  coverage: Coverage;
}

/** Default rows per row group: ~1.5 MB of buffers, a few seconds of a busy node. */
export const DEFAULT_ROW_GROUP_ROWS = 16_384;
/** Default byte bound of a row group before compression. */
export const DEFAULT_ROW_GROUP_BYTES = 8 << 20;
// hand encoded bytes to the kernel in chunks of this size so the encoder's buffer stays small
const CHUNK_BYTES = 1 << 20;

/** Temporary name of an incomplete file: hidden, and not matching `*.parquet`. */
export function tmpPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}

/**
 * A hyparquet-writer Writer that hands its bytes to a file descriptor as it goes, so memory
 * holds at most one chunk plus one page, not the file.
 */
class FdWriter extends ByteWriter {
  constructor(private readonly file: Deno.FsFile) {
    super(CHUNK_BYTES + (64 << 10));
  }

  override ensure(size: number): void {
    if (this.index > CHUNK_BYTES) this.flush();
    super.ensure(size);
  }

  flush(): void {
    let off = 0;
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    while (off < bytes.length) off += this.file.writeSync(bytes.subarray(off));
    this.index = 0;
  }

  override finish(): void {
    this.flush();
  }
}

/** Writes OutputRows to one Parquet file; nothing appears under the final name before close(). */
export class ParquetFileWriter {
  readonly path: string;
  readonly tmpPath: string;
  readonly coverage: Coverage = {
    rows: 0,
    knownCpuNs: 0,
    unknownCpuNs: 0,
    knownCycles: 0,
    unknownCycles: 0,
    rowsCarried: 0,
  };
  readonly #config: FileConfig;
  readonly #rowGroupBytes: number;
  readonly #buffer: RowGroupBuffer;
  readonly #file: Deno.FsFile;
  readonly #out: FdWriter;
  readonly #encoder: ChunkEncoder;
  readonly #footer = new FooterBuilder();
  #state: "open" | "closed" | "failed" = "open";

  /** Creates the temporary file; throws OutputWriteError when it cannot. */
  constructor(opts: ParquetFileOptions) {
    const rowGroupRows = opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1) {
      throw new OutputConfigError("rowGroupRows", `rowGroupRows must be ≥ 1, got ${rowGroupRows}`);
    }
    this.path = opts.path;
    this.tmpPath = tmpPathFor(opts.path);
    this.#config = opts.config;
    this.#rowGroupBytes = opts.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES;
    this.#buffer = new RowGroupBuffer(rowGroupRows, opts.config);
    try {
      this.#file = Deno.openSync(this.tmpPath, { write: true, create: true, truncate: true });
    } catch (err) {
      throw writeErrorFrom(err, this.tmpPath, "create", 0);
    }
    this.#out = new FdWriter(this.#file);
    const params = { [zlibConstants.ZSTD_c_compressionLevel]: opts.zstdLevel ?? 3 };
    // node:zlib has ZSTD since Node 22.15 and Deno implements it: no compressor package needed
    const zstd = (input: Uint8Array) => zstdCompressSync(input, { params });
    this.#encoder = new ChunkEncoder(this.#out, zstd, rowGroupRows);
    writeFileHeader(this.#out);
  }

  /** Rows appended so far (buffered or in flushed row groups). */
  get rows(): number {
    return this.coverage.rows;
  }

  /** Encoded bytes so far (header and flushed row groups); buffered rows are not counted. */
  get bytes(): number {
    return this.#out.offset;
  }

  /** Buffers one row; flushes a row group when the buffer is full by rows or bytes. */
  append(row: OutputRow): void {
    if (this.#state !== "open") throw new OutputClosedError(this.path);
    this.#buffer.push(row, this.coverage);
    if (this.#buffer.full || this.#buffer.bytes >= this.#rowGroupBytes) this.flushRowGroup();
  }

  /** Encodes the buffered rows as one row group and hands them to the kernel. */
  flushRowGroup(): void {
    if (this.#buffer.length === 0) return;
    this.#guard("write", () => {
      const start = this.#out.offset;
      const columns = this.#buffer.encode(this.#encoder);
      this.#footer.addRowGroup(columns, this.#buffer.length, start, this.#out.offset);
      this.#buffer.clear();
      // hand the group to the kernel now: memory holds one row group, never the file
      this.#out.flush();
    });
  }

  /**
   * Flushes the last row group, writes the footer with the coverage metadata, fsyncs the file,
   * renames it to its final name and fsyncs the directory. Returns what the file holds.
   * Synchronous, so a writer can rotate from inside append().
   */
  finishSync(): ClosedFileInfo {
    if (this.#state !== "open") throw new OutputClosedError(this.path);
    this.flushRowGroup();
    this.#guard("finish", () => {
      this.#footer.write(this.#out, {
        schema: PARQUET_SCHEMA,
        kvMetadata: fileMetadata(this.#config, this.coverage),
        createdBy: `podperf version ${this.#config.version}`,
      });
      this.#out.finish();
      this.#file.syncSync();
      this.#file.close();
    });
    this.#state = "closed";
    try {
      Deno.renameSync(this.tmpPath, this.path);
    } catch (err) {
      this.#discard();
      throw writeErrorFrom(err, this.path, "rename into", this.rows);
    }
    try {
      syncDir(dirname(this.path));
    } catch (err) {
      // the file itself is complete and synced; only its directory entry may not survive a crash
      log.warn("parquet directory fsync failed", { path: this.path, error: String(err) });
    }
    return {
      path: this.path,
      rows: this.rows,
      bytes: this.#out.offset,
      coverage: { ...this.coverage },
    };
  }

  /** finishSync() as a promise: every failure is a rejection. */
  // deno-lint-ignore require-await -- async so a throw becomes a rejection
  async close(): Promise<ClosedFileInfo> {
    return this.finishSync();
  }

  /** Drops the file: closes it and removes the temporary name. For shutdown after a failure. */
  abort(): void {
    if (this.#state === "open") {
      this.#state = "failed";
      this.#discard();
    }
  }

  // Runs an fs step; on failure the file is removed and the error says how many rows are lost.
  #guard(action: string, step: () => void): void {
    try {
      step();
    } catch (err) {
      this.#state = "failed";
      this.#discard();
      throw writeErrorFrom(err, this.tmpPath, action, this.rows);
    }
  }

  #discard(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
    try {
      Deno.removeSync(this.tmpPath);
    } catch { /* never created or already renamed */ }
  }
}

// The rename is durable only once the directory entry is on disk.
function syncDir(dir: string): void {
  const d = Deno.openSync(dir, { read: true });
  try {
    d.syncSync();
  } finally {
    d.close();
  }
}
