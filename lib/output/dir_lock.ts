/**
 * Who owns which files in an output directory. Each writer holds an exclusive flock on its own
 * `.<prefix>.<owner>.lock` for its whole life and tags its temporary files with `<owner>`, so
 * two collectors on one directory (a rolling update that overlaps) each write under their own
 * names and never touch each other's files. The kernel drops a lock when its process dies
 * (SIGKILL, OOM), so a lock file that can be locked belongs to a dead writer whose temporary
 * files may be salvaged.
 */
import { join } from "node:path";
import { OutputConfigError } from "./errors.ts";
import { FILE_MODE } from "./parquet_writer.ts";

/** A fresh owner tag: random, so neither a reused pid nor a second writer in one process clash. */
export function newOwner(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 8);
}

/** An exclusive lock on one owner's lock file; release() on clean shutdown. */
export class OwnerLock {
  /** Wraps an already locked file; use acquire() or deadOwners(). */
  constructor(
    readonly path: string,
    readonly owner: string,
    readonly file: Deno.FsFile,
  ) {}

  /**
   * Creates and locks this writer's lock file. The file is created under a temporary name and
   * renamed once locked, so no other writer ever sees it unlocked and takes it for a dead one.
   * Throws OutputConfigError when the directory is not writable.
   */
  static acquire(dir: string, prefix: string, owner: string = newOwner()): OwnerLock {
    const path = lockPath(dir, prefix, owner);
    const fresh = `${path}.new`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(fresh, { write: true, createNew: true, mode: FILE_MODE });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new OutputConfigError(
        "dir",
        `output directory ${dir} is not writable (${code}): ${(err as Error).message}`,
      );
    }
    if (!file.tryLockSync(true)) {
      file.close();
      throw new OutputConfigError("dir", `cannot lock ${fresh}`);
    }
    // link, not rename: never replaces a lock file someone else holds under the name
    try {
      Deno.linkSync(fresh, path);
    } catch (err) {
      file.close();
      throw err;
    } finally {
      Deno.removeSync(fresh);
    }
    return new OwnerLock(path, owner, file);
  }

  /**
   * Unlocks, and removes the lock file unless `keepFile`: a writer that leaves a temporary
   * file it could not finish (disk full) keeps its lock file, unlocked, so the next start
   * sees a dead owner and salvages it.
   */
  release(keepFile = false): void {
    if (!keepFile) {
      try {
        Deno.removeSync(this.path);
      } catch { /* already gone */ }
    }
    try {
      this.file.close(); // closing the descriptor drops the flock
    } catch { /* already closed */ }
  }
}

/** Path of an owner's lock file. */
export function lockPath(dir: string, prefix: string, owner: string): string {
  return join(dir, `.${prefix}.${owner}.lock`);
}

const OWNER = /^[0-9a-z]{1,32}$/;

/**
 * Locks of writers with this prefix that are no longer alive: each returned lock is held, so
 * no other starting writer salvages the same files; release() it when done.
 */
export function deadOwners(dir: string, prefix: string): OwnerLock[] {
  const head = `.${prefix}.`;
  const dead: OwnerLock[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const name = entry.name;
    if (!name.startsWith(head) || !name.endsWith(".lock")) continue;
    const owner = name.slice(head.length, -".lock".length);
    if (!OWNER.test(owner)) continue;
    const path = join(dir, name);
    if (!entry.isFile) {
      // a symlink or directory where a lock file belongs: not ours to follow; remove the name
      if (entry.isSymlink) Deno.removeSync(path);
      continue;
    }
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch {
      continue; // removed meanwhile
    }
    const same = sameFile(file, path);
    if (same && file.tryLockSync(true)) {
      dead.push(new OwnerLock(path, owner, file));
    } else file.close();
  }
  return dead;
}

/** True when the open `file` is still what `path` names and a regular file (not a symlink). */
export function sameFile(file: Deno.FsFile, path: string): boolean {
  try {
    const a = file.statSync(), b = Deno.lstatSync(path);
    return b.isFile && a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}
