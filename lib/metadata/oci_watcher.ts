/**
 * Finds CRI containers' OCI bundles in the runtimes' state directories and watches those
 * directories (inotify via Deno.watchFs) so a new container's metadata is known as soon as its
 * bundle is written, without polling.
 */
import { log as defaultLog } from "../log.ts";
import {
  OciConfigError,
  type OciPodMeta,
  type OciReadLimits,
  readOciConfigAsync,
} from "./oci_annotations.ts";

/** containerd's v2 task directory under its state dir (bundles are `<this>/<ns>/<id>`). */
export function containerdTaskDir(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/io.containerd.runtime.v2.task`;
}

/** Default containerd task directories (state dir `/run/containerd`). */
export const DEFAULT_CONTAINERD_TASK_DIRS: readonly string[] = [
  containerdTaskDir("/run/containerd"),
];
/** Default containerd namespaces searched (the CRI plugin's). */
export const DEFAULT_CONTAINERD_NAMESPACES: readonly string[] = ["k8s.io"];
/** Default CRI-O container directories (bundles are `<this>/<id>/userdata`). */
export const DEFAULT_CRIO_CONTAINER_DIRS: readonly string[] = [
  "/run/containers/storage/overlay-containers",
];
/** Default delays (ms) between re-reads of a new bundle whose config.json is not written yet. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [10, 50, 200, 1000, 4000];
/** Most bundle reads in flight (on-demand lookups and new bundles waiting for config.json). */
export const MAX_PENDING_READS = 1024;
/** Most distinct bad files warned about (each once); older ones may warn again. */
const MAX_WARNED = 1024;
/** Most removed bundle ids remembered, so a read that raced their removal does not revive them. */
export const MAX_GONE_IDS = 4096;

/** Options of an OciBundleWatcher. */
export interface OciBundleWatcherOptions {
  /** containerd task directories (see containerdTaskDir); default under /run/containerd. */
  containerdTaskDirs?: readonly string[];
  /** containerd namespaces searched under each task directory; default ["k8s.io"]. */
  containerdNamespaces?: readonly string[];
  /** CRI-O container directories; default /run/containers/storage/overlay-containers. */
  crioContainerDirs?: readonly string[];
  /** Watch for new bundles (default true); without it, lookups still read bundles on demand. */
  watch?: boolean;
  /** Delays between re-reads of a new bundle that is still being written. */
  retryDelaysMs?: readonly number[];
  /** Most bundles kept (default 65 536). */
  maxEntries?: number;
  /** Bounds on each config.json read (size, deadline). */
  readLimits?: OciReadLimits;
  /** Most reads pending at once (default MAX_PENDING_READS); more are dropped and counted. */
  maxPendingReads?: number;
  /** Most removed ids remembered (default MAX_GONE_IDS); the oldest are forgotten first. */
  maxGoneIds?: number;
  /** Logger (default lib/log). */
  log?: Pick<typeof defaultLog, "warn" | "debug">;
}

/** One directory whose subdirectories are bundles, named by container id. */
interface Target {
  dir: string;
  /** config.json of container `id`, relative to `<dir>/<id>`. */
  config: string;
  watcher: Deno.FsWatcher | null;
  /** The directory actually watched: `dir`, or its nearest existing ancestor until it exists. */
  watched: string;
}

/** Counters of an OciBundleWatcher. */
export interface OciWatcherStats {
  /** Bundles known. */
  bundles: number;
  /** config.json reads started. */
  reads: number;
  /** Reads pending (in flight or waiting to retry). */
  pending: number;
  /** Reads not started because `maxPendingReads` were already pending. */
  droppedReads: number;
  /** Reads refused as not a regular file, too large or too slow. */
  refused: number;
}

/**
 * Container id → pod metadata from the containers' OCI bundles (containerd and CRI-O layouts).
 * Every read is asynchronous and bounded (see readOciConfigAsync): `lookup` answers from memory
 * and, for an unknown id, starts a read whose result is announced to subscribers.
 *
 * @example
 * const oci = new OciBundleWatcher({ containerdTaskDirs: [containerdTaskDir(state)] });
 * await oci.ready;
 * oci.lookup(containerId)?.podName;
 * await oci.close();
 */
export class OciBundleWatcher {
  readonly retryDelaysMs: readonly number[];
  readonly maxEntries: number;
  readonly maxPendingReads: number;
  readonly maxGoneIds: number;
  /** Resolves once the bundles present at construction have been read. */
  readonly ready: Promise<void>;
  #limits: OciReadLimits;
  #inFlight = new Set<string>();
  #droppedReads = 0;
  #refused = 0;
  #log: Pick<typeof defaultLog, "warn" | "debug">;
  #targets: Target[] = [];
  #byId = new Map<string, OciPodMeta>();
  #warned = new Set<string>();
  /** Ids whose bundle directory was seen removed, newest last (bounded: maxGoneIds). */
  #gone = new Set<string>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #loops = new Set<Promise<void>>();
  #listeners = new Set<(meta: OciPodMeta) => void>();
  #closed = false;
  #reads = 0;

  constructor(opts: OciBundleWatcherOptions = {}) {
    this.retryDelaysMs = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.maxEntries = opts.maxEntries ?? 65_536;
    this.maxPendingReads = opts.maxPendingReads ?? MAX_PENDING_READS;
    this.maxGoneIds = opts.maxGoneIds ?? MAX_GONE_IDS;
    this.#limits = opts.readLimits ?? {};
    this.#log = opts.log ?? defaultLog;
    for (const task of opts.containerdTaskDirs ?? DEFAULT_CONTAINERD_TASK_DIRS) {
      for (const ns of opts.containerdNamespaces ?? DEFAULT_CONTAINERD_NAMESPACES) {
        this.#targets.push({
          dir: `${trim(task)}/${ns}`,
          config: "config.json",
          watcher: null,
          watched: "",
        });
      }
    }
    for (const dir of opts.crioContainerDirs ?? DEFAULT_CRIO_CONTAINER_DIRS) {
      this.#targets.push({
        dir: trim(dir),
        config: "userdata/config.json",
        watcher: null,
        watched: "",
      });
    }
    const watch = opts.watch ?? true;
    this.ready = Promise.all(this.#targets.map(async (t) => {
      // Arm before scanning so a bundle written in between is seen by one or the other.
      if (watch) await this.#arm(t);
      await this.#scan(t);
    })).then(() => {});
  }

  /** Counters for the stats line and /metrics. */
  stats(): OciWatcherStats {
    return {
      bundles: this.#byId.size,
      reads: this.#reads,
      pending: this.#inFlight.size + this.#timers.size,
      droppedReads: this.#droppedReads,
      refused: this.#refused,
    };
  }

  /** Bundles known. */
  get size(): number {
    return this.#byId.size;
  }

  /** config.json files read so far (scans, watch events and on-demand lookups). */
  get reads(): number {
    return this.#reads;
  }

  /**
   * Metadata of container (or sandbox) `containerId` if known; otherwise undefined, and a read of
   * its bundle starts in the background (subscribers hear of it when it is found).
   */
  lookup(containerId: string): OciPodMeta | undefined {
    const known = this.#byId.get(containerId);
    if (known) return known;
    // An id that is not a plain name must not walk out of the state directories.
    if (containerId === "" || containerId.includes("/") || containerId.startsWith(".")) {
      return undefined;
    }
    if (this.#closed || this.#inFlight.has(containerId)) return undefined;
    if (this.#gone.has(containerId)) return undefined; // its bundle was seen removed
    if (this.#inFlight.size + this.#timers.size >= this.maxPendingReads) {
      this.#droppedReads++;
      return undefined;
    }
    this.#inFlight.add(containerId);
    const job = (async () => {
      for (const t of this.#targets) {
        if (this.#closed || await this.#read(t, containerId, true)) break;
      }
    })().finally(() => this.#inFlight.delete(containerId));
    this.#loops.add(job);
    job.finally(() => this.#loops.delete(job));
    return undefined;
  }

  /** Calls `fn` with each bundle that becomes known; returns the function that stops it. */
  subscribe(fn: (meta: OciPodMeta) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stops watching and pending re-reads; resolves once the watch loops have ended. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#targets) this.#unarm(t);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.#loops);
  }

  async #scan(t: Target): Promise<void> {
    try {
      for await (const e of Deno.readDir(t.dir)) {
        if (this.#closed) return;
        if (e.isDirectory && !this.#byId.has(e.name)) await this.#read(t, e.name, true);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#warnOnce(t.dir, "cannot list OCI bundle directory", { error: String(err) });
      }
    }
  }

  /** Reads one bundle; with `final` false a missing or half-written file stays quiet. */
  async #read(t: Target, id: string, final: boolean): Promise<OciPodMeta | undefined> {
    const path = `${t.dir}/${id}/${t.config}`;
    this.#reads++;
    try {
      const meta = await readOciConfigAsync(path, id, this.#limits);
      if (this.#closed) return undefined;
      this.#add(meta);
      return meta;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      const refused = err instanceof OciConfigError &&
        (err.problem === "not-regular" || err.problem === "too-large" ||
          err.problem === "timeout");
      if (refused) this.#refused++;
      // A file that cannot be a config.json will not become one by waiting.
      if (!final && !refused) return undefined;
      if (err instanceof OciConfigError) {
        this.#warnOnce(path, "OCI config.json gives no pod metadata", {
          problem: err.problem,
          detail: err.detail,
          containerId: id,
        });
        return undefined;
      }
      this.#warnOnce(path, "cannot read OCI config.json", { error: String(err), containerId: id });
      return undefined;
    }
  }

  #add(meta: OciPodMeta): void {
    const id = meta.containerId!;
    // A read that began before its bundle was removed can end after the remove event was
    // handled, and nothing would ever remove the entry then (an id comes back only with a new
    // create event, which clears it from #gone).
    if (this.#gone.has(id)) return;
    if (!this.#byId.has(id) && this.#byId.size >= this.maxEntries) {
      this.#byId.delete(this.#byId.keys().next().value!);
    }
    this.#byId.set(id, meta);
    for (const fn of this.#listeners) fn(meta);
  }

  #warnOnce(path: string, msg: string, fields: Record<string, unknown>): void {
    if (this.#warned.has(path)) return;
    if (this.#warned.size >= MAX_WARNED) this.#warned.delete(this.#warned.values().next().value!);
    this.#warned.add(path);
    this.#log.warn(msg, { path, ...fields });
  }

  async #arm(t: Target): Promise<void> {
    let dir = t.dir;
    while (!await isDir(dir)) {
      const up = dir.slice(0, dir.lastIndexOf("/")) || "/";
      if (up === dir) return;
      dir = up;
    }
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(dir, { recursive: false });
    } catch (err) {
      this.#warnOnce(dir, "cannot watch OCI bundle directory; new bundles resolve on lookup", {
        error: String(err),
      });
      return;
    }
    t.watcher = watcher;
    t.watched = dir;
    const loop = this.#pump(t, watcher);
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }

  #unarm(t: Target): void {
    if (t.watcher === null) return;
    try {
      t.watcher.close();
    } catch { /* already closed */ }
    t.watcher = null;
  }

  async #pump(t: Target, watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (this.#closed || t.watcher !== watcher) break;
        if (ev.kind === "remove" && ev.paths.includes(t.watched)) {
          // The watched directory itself went (a runtime wiping its state): wait for it anew.
          this.#unarm(t);
          await this.#arm(t);
          await this.#scan(t);
          return;
        }
        if (t.watched !== t.dir) {
          // Waiting for the bundle directory itself to appear: move the watch closer.
          if (
            await isDir(t.dir) || await someDir(ev.paths.filter((p) => t.dir.startsWith(p + "/")))
          ) {
            this.#unarm(t);
            await this.#arm(t);
            await this.#scan(t);
            return;
          }
          continue;
        }
        for (const p of ev.paths) {
          const slash = p.lastIndexOf("/");
          if (p.slice(0, slash) !== t.dir) continue;
          const id = p.slice(slash + 1);
          if (ev.kind === "remove") this.#forget(id);
          else if (ev.kind === "create" || ev.kind === "rename" || ev.kind === "any") {
            // Events of a bundle made and removed at once may come merged or late: a path that
            // is no directory any more is gone; one made again under a removed id (a task
            // restarted by a non-CRI client) is read anew.
            if (await isDir(p)) {
              this.#gone.delete(id);
              this.#load(t, id, 0);
            } else this.#forget(id);
          }
        }
      }
    } catch (err) {
      if (!this.#closed) {
        this.#log.warn("OCI bundle watch ended; new bundles resolve on lookup", {
          dir: t.watched,
          error: String(err),
        });
      }
    }
  }

  /** Reads a new bundle, re-reading while its config.json is missing or half written. */
  #load(t: Target, id: string, attempt: number): void {
    const key = `${t.dir}/${id}`;
    this.#timers.delete(key);
    if (this.#closed || this.#inFlight.has(key)) return;
    if (this.#inFlight.size + this.#timers.size >= this.maxPendingReads) {
      this.#droppedReads++; // a lookup reads it later, on demand
      return;
    }
    const last = attempt >= this.retryDelaysMs.length;
    this.#inFlight.add(key);
    const job = this.#read(t, id, last).then((meta) => {
      this.#inFlight.delete(key);
      if (meta || last || this.#closed) return;
      this.#timers.set(
        key,
        setTimeout(() => this.#load(t, id, attempt + 1), this.retryDelaysMs[attempt]),
      );
    });
    this.#loops.add(job);
    job.finally(() => this.#loops.delete(job));
  }

  #forget(id: string): void {
    this.#byId.delete(id);
    if (this.#gone.size >= this.maxGoneIds) this.#gone.delete(this.#gone.values().next().value!);
    this.#gone.add(id);
    for (const [key, timer] of this.#timers) {
      if (key.endsWith(`/${id}`)) {
        clearTimeout(timer);
        this.#timers.delete(key);
      }
    }
  }
}

function trim(dir: string): string {
  return dir.replace(/\/+$/, "") || "/";
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function someDir(paths: string[]): Promise<boolean> {
  for (const p of paths) if (await isDir(p)) return true;
  return false;
}
