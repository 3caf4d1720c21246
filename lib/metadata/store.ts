/**
 * The metadata store: cgroup inode → pod/container metadata, fed by the NRI plugin and read by
 * the join. Removed containers stay resolvable for a grace period so late samples attribute.
 */
import { log as defaultLog } from "../log.ts";

/** Pod metadata of one cgroup, as the join writes it into rows (docs/DESIGN.md). */
export interface PodMeta {
  podName: string | null;
  podNamespace: string | null;
  podUid: string | null;
  containerName: string | null;
  containerId: string | null;
  image: string | null;
  source: "nri" | "oci" | "cgroup-path";
}

/** One store entry: PodMeta plus what the store needs to keep it exact. */
export interface MetadataEntry extends PodMeta {
  /** cgroup2 inode, null until the cgroup directory has been found. */
  cgroupId: bigint | null;
  /** The pod sandbox (pause container) rather than an app container. */
  sandbox: boolean;
  /** Pod sandbox id. */
  podId: string | null;
  /** `linux.cgroups_path` as the runtime gave it. */
  cgroupsPath: string | null;
  /** Labels and annotations picked by the store's config (pod's, overridden by container's). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Clock time (ms) of removal, null while live. */
  removedAt: number | null;
}

/** What callers give to `upsert`; the store fills the rest. */
export type EntryInput = Omit<MetadataEntry, "removedAt" | "cgroupId" | "source"> & {
  containerId: string;
  cgroupId?: bigint | null;
};

/** A change in the store, for listeners. */
export type StoreChange = {
  kind: "added" | "updated" | "removed" | "evicted" | "expired";
  entry: MetadataEntry;
};

/** Options of a MetadataStore. */
export interface MetadataStoreOptions {
  /** How long a removed container stays resolvable, ms (default 10 000). */
  gracePeriodMs?: number;
  /** Most entries kept (default 65 536). */
  maxEntries?: number;
  /** Clock in ms; inject one in tests. */
  now?: () => number;
  /** Label keys copied into entries (default none). */
  labelKeys?: string[];
  /** Annotation keys copied into entries (default none). */
  annotationKeys?: string[];
  /** Logger (default lib/log). */
  log?: Pick<typeof defaultLog, "warn">;
}

/** Default grace period for removed containers. */
export const DEFAULT_GRACE_MS = 10_000;
/** Default bound on entries. */
export const DEFAULT_MAX_ENTRIES = 65_536;

/** cgroup inode → pod metadata, also keyed by container id. */
export class MetadataStore {
  readonly gracePeriodMs: number;
  readonly maxEntries: number;
  readonly labelKeys: readonly string[];
  readonly annotationKeys: readonly string[];
  #now: () => number;
  #log: Pick<typeof defaultLog, "warn">;
  // Insertion order of #byId is the age order used for eviction.
  #byId = new Map<string, MetadataEntry>();
  #byCgroup = new Map<bigint, MetadataEntry>();
  // Removed entries in removal order (removal times only grow), so eviction and the sweep take
  // the oldest in O(1) instead of scanning every entry: a 100 k-container sync evicting into a
  // full store was quadratic.
  #removed = new Map<string, MetadataEntry>();
  #byPod = new Map<string, Set<string>>();
  #listeners = new Set<(c: StoreChange) => void>();
  #warnedFull = false;
  #evictions = 0;
  #generation = 0;
  #syncing = false;
  #seen = new Map<string, number>();

  constructor(opts: MetadataStoreOptions = {}) {
    this.gracePeriodMs = opts.gracePeriodMs ?? DEFAULT_GRACE_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.labelKeys = opts.labelKeys ?? [];
    this.annotationKeys = opts.annotationKeys ?? [];
    this.#now = opts.now ?? (() => performance.now());
    this.#log = opts.log ?? defaultLog;
  }

  /** Removed entries still in (or past, until the next sweep) their grace period. */
  get removing(): number {
    return this.#removed.size;
  }

  /** Entries held, live and removed-in-grace. */
  get size(): number {
    return this.#byId.size;
  }

  /** Entries in their grace period (removed, still resolvable). */
  get removedCount(): number {
    return this.#removed.size;
  }

  /** Entries dropped because the store was full. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Metadata of the cgroup with inode `cgroupId`, or undefined (also once a removal's grace ran out). */
  lookup(cgroupId: bigint): PodMeta | undefined {
    const e = this.#byCgroup.get(cgroupId);
    if (!e || this.#expired(e)) return undefined;
    return e;
  }

  /** The entry of a container (or sandbox) id, resolved or not. */
  getByContainerId(id: string): MetadataEntry | undefined {
    const e = this.#byId.get(id);
    if (!e || this.#expired(e)) return undefined;
    return e;
  }

  /** All entries, oldest first (for `podperf pods`). */
  entries(): MetadataEntry[] {
    return [...this.#byId.values()].filter((e) => !this.#expired(e));
  }

  /** Ids of live entries whose cgroup inode is not known yet. */
  unresolved(): string[] {
    const out: string[] = [];
    for (const e of this.#byId.values()) {
      if (e.cgroupId === null && e.removedAt === null) out.push(e.containerId!);
    }
    return out;
  }

  /** Adds a container or updates it; a removed one becomes live again only inside a resync. */
  upsert(input: EntryInput): MetadataEntry {
    const id = input.containerId;
    this.#seen.set(id, this.#generation);
    const old = this.#byId.get(id);
    if (old) {
      const cg = input.cgroupId ?? old.cgroupId;
      // Only a resync, which lists live containers, can bring a removed entry back.
      const removedAt = this.#syncing ? null : old.removedAt;
      if (removedAt === null) this.#removed.delete(id);
      this.#unindexPod(old);
      // keep the indexed inode on the entry so #setCgroup can unindex it if it changes
      Object.assign(old, input, { cgroupId: old.cgroupId, removedAt, source: "nri" });
      this.#indexPod(old);
      this.#setCgroup(old, cg);
      this.#emit({ kind: "updated", entry: old });
      return old;
    }
    if (this.#byId.size >= this.maxEntries) this.#evictOne();
    const entry: MetadataEntry = { ...input, cgroupId: null, removedAt: null, source: "nri" };
    this.#byId.set(id, entry);
    this.#indexPod(entry);
    this.#setCgroup(entry, input.cgroupId ?? null);
    this.#emit({ kind: "added", entry });
    return entry;
  }

  /** Records the cgroup inode of a container once it has been found. */
  setCgroupId(containerId: string, cgroupId: bigint): void {
    const e = this.#byId.get(containerId);
    if (!e || e.cgroupId === cgroupId) return;
    this.#setCgroup(e, cgroupId);
    this.#emit({ kind: "updated", entry: e });
  }

  /** Starts the grace period of a container (no-op if unknown or already removed). */
  markRemoved(containerId: string): void {
    const e = this.#byId.get(containerId);
    if (!e || e.removedAt !== null) return;
    e.removedAt = this.#now();
    this.#removed.set(containerId, e);
    this.#emit({ kind: "removed", entry: e });
  }

  /** Starts the grace period of every container of pod `podId`. */
  markPodRemoved(podId: string): void {
    const ids = this.#byPod.get(podId);
    if (ids) { for (const id of [...ids]) this.markRemoved(id); }
  }

  /** Opens a resync: upserts until `endSync` count as seen; everything else is then removed. */
  beginSync(): void {
    this.#generation++;
    this.#syncing = true;
  }

  /** Closes a resync: live entries not upserted since `beginSync` start their grace period. */
  endSync(): number {
    this.#syncing = false;
    let n = 0;
    for (const e of this.#byId.values()) {
      if (e.removedAt === null && this.#seen.get(e.containerId!) !== this.#generation) {
        this.markRemoved(e.containerId!);
        n++;
      }
    }
    return n;
  }

  /** Drops entries whose grace period is over; returns how many went. */
  sweep(): number {
    let n = 0;
    for (const e of this.#removed.values()) {
      // In removal order: the first one still in its grace ends the sweep.
      if (!this.#expired(e)) break;
      this.#drop(e);
      this.#emit({ kind: "expired", entry: e });
      n++;
    }
    return n;
  }

  /** Listens to changes; returns the function that stops listening. */
  subscribe(fn: (c: StoreChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Picks the configured label/annotation keys from pod and container maps. */
  select(
    pod: Record<string, string> | undefined,
    container: Record<string, string> | undefined,
    keys: readonly string[],
  ): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of keys) {
      const v = container?.[k] ?? pod?.[k];
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  #expired(e: MetadataEntry): boolean {
    return e.removedAt !== null && this.#now() - e.removedAt >= this.gracePeriodMs;
  }

  #setCgroup(e: MetadataEntry, cg: bigint | null): void {
    if (e.cgroupId !== null && this.#byCgroup.get(e.cgroupId) === e) {
      this.#byCgroup.delete(e.cgroupId);
    }
    e.cgroupId = cg;
    if (cg !== null) this.#byCgroup.set(cg, e);
  }

  #indexPod(e: MetadataEntry): void {
    if (e.podId === null) return;
    let ids = this.#byPod.get(e.podId);
    if (!ids) this.#byPod.set(e.podId, ids = new Set());
    ids.add(e.containerId!);
  }

  #unindexPod(e: MetadataEntry): void {
    if (e.podId === null) return;
    const ids = this.#byPod.get(e.podId);
    if (!ids) return;
    ids.delete(e.containerId!);
    if (ids.size === 0) this.#byPod.delete(e.podId);
  }

  #drop(e: MetadataEntry): void {
    this.#byId.delete(e.containerId!);
    this.#seen.delete(e.containerId!);
    this.#removed.delete(e.containerId!);
    this.#unindexPod(e);
    if (e.cgroupId !== null && this.#byCgroup.get(e.cgroupId) === e) {
      this.#byCgroup.delete(e.cgroupId);
    }
  }

  #evictOne(): void {
    if (!this.#warnedFull) {
      this.#warnedFull = true;
      this.#log.warn("metadata store is full; evicting oldest entries", {
        maxEntries: this.maxEntries,
      });
    }
    // The longest-removed entry first, else the oldest live one.
    const victim: MetadataEntry | undefined = this.#removed.values().next().value ??
      this.#byId.values().next().value;
    if (!victim) return;
    this.#drop(victim);
    this.#evictions++;
    this.#emit({ kind: "evicted", entry: victim });
  }

  #emit(c: StoreChange): void {
    for (const fn of this.#listeners) fn(c);
  }
}
