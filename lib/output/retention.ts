/**
 * Retention of completed Parquet files on the node: the oldest complete files of this prefix
 * are deleted first once the directory holds more than `maxBytes` of them or they are older
 * than `maxAgeMs`. Never a file being written (those have temporary names), never one `keep`
 * says to keep (the uploader's "not uploaded yet") — unless kept files alone pass the hard
 * limit (HARD_LIMIT_FACTOR × maxBytes): then the oldest of them go too, counted and logged, since
 * a node agent that fills its node's disk does more harm than the rows it would keep.
 * All file IO is async (Deno's thread pool), so nothing here blocks the collector's loop.
 */
import { join } from "node:path";
import { log } from "../log.ts";

/** Kept files may hold up to this many times maxBytes before retention deletes them anyway. */
export const HARD_LIMIT_FACTOR = 2;

/** Options of Retention. */
export interface RetentionOptions {
  dir: string;
  /** file name prefix, `podperf-<node>`: only `<prefix>-<stamp>-<seq>.parquet` files count */
  prefix: string;
  /** bytes of complete files to keep at most (Infinity: no size limit) */
  maxBytes: number;
  /** a file whose first slot (the time in its name) is older than this goes */
  maxAgeMs: number;
  /** true = not deletable yet (e.g. not uploaded) */
  keep?: (path: string) => boolean;
  /** wall-clock ms (default Date.now) */
  nowMs?: () => number;
}

/** Counters of Retention. */
export interface RetentionStats {
  filesDeleted: number;
  bytesDeleted: number;
  /** files over a limit that `keep` held on the last pass, and their bytes */
  keptOverLimit: number;
  keptOverLimitBytes: number;
  /** files deleted although `keep` said to keep them (kept files past the hard limit) */
  deletedDespiteKeep: number;
  /** bytes of complete files after the last pass */
  bytesOnDisk: number;
  /** complete files after the last pass */
  files: number;
}

interface Candidate {
  path: string;
  stampMs: number;
  seq: number;
  size: number;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Deletes the oldest complete files to stay within a size and an age; see the module doc. */
export class Retention {
  readonly #opts: RetentionOptions;
  readonly #name: RegExp;
  readonly #stats: RetentionStats = {
    filesDeleted: 0,
    bytesDeleted: 0,
    keptOverLimit: 0,
    keptOverLimitBytes: 0,
    deletedDespiteKeep: 0,
    bytesOnDisk: 0,
    files: 0,
  };
  #running: Promise<void> | null = null;
  #again = false;

  constructor(opts: RetentionOptions) {
    this.#opts = opts;
    this.#name = new RegExp(
      `^${escape(opts.prefix)}-(\\d{8}T\\d{6}\\.\\d{3}Z)-(\\d{4,})(-[0-9a-z]+)?\\.parquet$`,
    );
  }

  /** A copy of the counters. */
  stats(): RetentionStats {
    return { ...this.#stats };
  }

  /** Runs one pass (a pass asked for while one runs is run once after it). */
  enforce(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again);
      } catch (err) {
        log.throttled("retention", "error", "retention pass failed", { error: String(err) });
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  async #pass(): Promise<void> {
    const { dir, maxBytes, maxAgeMs, keep } = this.#opts;
    const files: Candidate[] = [];
    for await (const entry of Deno.readDir(dir)) {
      // a symlink is never ours: not counted, never followed, never deleted
      if (!entry.isFile) continue;
      const m = this.#name.exec(entry.name);
      if (!m) continue;
      const path = join(dir, entry.name);
      try {
        const st = await Deno.lstat(path);
        const s = m[1];
        const stampMs = Date.UTC(
          +s.slice(0, 4),
          +s.slice(4, 6) - 1,
          +s.slice(6, 8),
          +s.slice(9, 11),
          +s.slice(11, 13),
          +s.slice(13, 15),
          +s.slice(16, 19),
        );
        files.push({ path, stampMs, seq: +m[2], size: st.size });
      } catch { /* gone meanwhile */ }
    }
    files.sort((a, b) => a.stampMs - b.stampMs || a.seq - b.seq || (a.path < b.path ? -1 : 1));
    let total = files.reduce((s, f) => s + f.size, 0);
    const now = (this.#opts.nowMs ?? Date.now)();
    const kept: Candidate[] = [];
    let count = files.length;
    for (const f of files) {
      const tooOld = now - f.stampMs > maxAgeMs;
      if (total <= maxBytes && !tooOld) continue;
      if (keep?.(f.path)) {
        kept.push(f);
        continue;
      }
      if (await this.#delete(f)) {
        total -= f.size;
        count--;
      }
    }
    // kept files past the hard limit: the oldest go anyway
    const hard = HARD_LIMIT_FACTOR * maxBytes;
    let despite = 0;
    while (total > hard && kept.length > 0) {
      const f = kept.shift()!;
      if (await this.#delete(f)) {
        total -= f.size;
        count--;
        despite++;
      }
    }
    if (despite > 0) {
      this.#stats.deletedDespiteKeep += despite;
      log.warn("retention deleted files not yet uploaded: kept files passed the hard limit", {
        files: despite,
        hardLimitBytes: hard,
      });
    }
    this.#stats.keptOverLimit = kept.length;
    this.#stats.keptOverLimitBytes = kept.reduce((s, f) => s + f.size, 0);
    if (kept.length > 0) {
      log.throttled(
        "retention-kept",
        "warn",
        "retention is over its limit: files not deletable yet",
        {
          files: kept.length,
          bytes: this.#stats.keptOverLimitBytes,
        },
      );
    }
    this.#stats.bytesOnDisk = total;
    this.#stats.files = count;
  }

  async #delete(f: Candidate): Promise<boolean> {
    try {
      await Deno.remove(f.path);
      this.#stats.filesDeleted++;
      this.#stats.bytesDeleted += f.size;
      log.info("retention deleted a parquet file", { path: f.path, bytes: f.size });
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return true;
      log.throttled("retention-delete", "error", "retention cannot delete a file", {
        path: f.path,
        error: String(err),
      });
      return false;
    }
  }
}
