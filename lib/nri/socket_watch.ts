/**
 * Wakes the NRI client's reconnect wait when the runtime's socket appears. Many nodes run
 * containerd with NRI off, so the socket may never exist: polling it every few seconds was a
 * tenth of an idle agent's JS time (BENCHMARKS.md, eighth pass), and each poll is a wake-up. An
 * inotify watch costs nothing until something is created, and reconnects at once when the
 * runtime (re)binds its socket instead of at the next poll.
 */
import { basename, dirname } from "node:path";
import { log } from "../log.ts";

/**
 * Watches the nearest existing directory on the socket's path for the next entry of that path
 * (the socket itself, or a missing directory above it) and calls `onChange` once it shows up.
 */
export class SocketWatch {
  readonly socketPath: string;
  #onChange: () => void;
  #watcher: Deno.FsWatcher | null = null;
  #dir: string | null = null;

  constructor(socketPath: string, onChange: () => void) {
    this.socketPath = socketPath;
    this.#onChange = onChange;
  }

  /** The directory watched now, or null. */
  get dir(): string | null {
    return this.#dir;
  }

  /**
   * Starts watching unless already watching; false when no directory on the path can be
   * watched (the caller then polls). A change ends the watch: call arm() again after it.
   */
  arm(): boolean {
    if (this.#watcher) return true;
    let entry = this.socketPath;
    let dir = dirname(entry);
    for (;;) {
      try {
        if (Deno.statSync(dir).isDirectory) break;
        return false; // a file where a directory should be: nothing will be created under it
      } catch {
        if (dirname(dir) === dir) return false;
        entry = dir;
        dir = dirname(dir);
      }
    }
    const name = basename(entry);
    let watcher: Deno.FsWatcher;
    try {
      // non-recursive: only entries of `dir` itself, so a name match is the entry we wait for
      watcher = Deno.watchFs(dir, { recursive: false });
    } catch (e) {
      log.debug("cannot watch for the NRI socket; polling", { dir, error: String(e) });
      return false;
    }
    this.#watcher = watcher;
    this.#dir = dir;
    void this.#wait(watcher, name);
    return true;
  }

  async #wait(watcher: Deno.FsWatcher, name: string): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (ev.kind !== "remove" && ev.paths.some((p) => basename(p) === name)) break;
      }
    } catch {
      // the watch failed: handled as its end below
    }
    if (this.#watcher !== watcher) return; // close() ended it
    this.close();
    // The entry appeared, or the watch ended by itself (its directory went): look again.
    this.#onChange();
  }

  /** Stops watching; idempotent. */
  close(): void {
    const watcher = this.#watcher;
    if (!watcher) return;
    this.#watcher = null;
    this.#dir = null;
    try {
      watcher.close();
    } catch { /* already closed */ }
  }
}
