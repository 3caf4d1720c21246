/**
 * The metadata chain the join calls once per cgroup per slot: the NRI store first, then the
 * container's OCI bundle, then what the cgroup path alone says. Fallback answers are cached by
 * cgroup id so the per-slot call stays a map lookup.
 */
import { parseCgroupPath } from "./cgroup_path.ts";
import { hostUnitMeta, parseHostUnit } from "./host_unit.ts";
import type { PodMeta } from "./store.ts";

/** cgroup id → metadata (the NRI MetadataStore). */
export interface CgroupMetaSource {
  lookup(cgroupId: bigint): PodMeta | undefined;
}

/** Container id → metadata (the OciBundleWatcher). */
export interface ContainerMetaSource {
  lookup(containerId: string): PodMeta | undefined;
  /** Announces newly found containers so cached misses are retried at once. */
  subscribe?(fn: (meta: PodMeta) => void): () => void;
}

/** cgroup id → path relative to the cgroup2 mount (the CgroupPathIndex). */
export interface CgroupPathSource {
  pathOf(cgroupId: bigint): string | undefined;
  /** Announces each finished walk so cached misses are retried at once. */
  subscribe?(fn: () => void): () => void;
}

/** Options of a MetadataResolver. */
export interface MetadataResolverOptions {
  /** NRI-fed store, asked first on every call (it is authoritative and already a map). */
  store?: CgroupMetaSource | null;
  /** OCI bundle source; without it the chain goes straight from NRI to the cgroup path. */
  oci?: ContainerMetaSource | null;
  /** cgroup id → path; without it neither fallback can run. */
  paths?: CgroupPathSource | null;
  /** How long an answer that cannot improve is kept, ms (default 60 000). */
  ttlMs?: number;
  /** How long a miss or a path-only answer is kept before the chain is tried again, ms (default 1000). */
  negativeTtlMs?: number;
  /** Most cgroups cached (default 65 536). */
  maxEntries?: number;
  /** Clock in ms; inject one in tests. */
  now?: () => number;
}

/** Counts of how calls were answered. */
export interface ResolverStats {
  /** Answered by the NRI store. */
  store: number;
  /** Answered from the fallback cache. */
  cached: number;
  /** Answered by an OCI bundle (uncached). */
  oci: number;
  /** Answered from the cgroup path alone (uncached). */
  cgroupPath: number;
  /** Not resolved (uncached). */
  unknown: number;
}

interface Cached {
  meta: PodMeta | null;
  expires: number;
  /** Short-lived entries are also dropped when a new bundle appears (see #generation). */
  generation: number;
}

/** Default TTL of final fallback answers. */
export const DEFAULT_TTL_MS = 60_000;
/** Default TTL of misses and path-only answers. */
export const DEFAULT_NEGATIVE_TTL_MS = 1000;

/**
 * Resolves a cgroup id to pod metadata: NRI store → OCI annotations → cgroup path.
 *
 * @example
 * const paths = new CgroupPathIndex();
 * await paths.refresh();
 * const r = new MetadataResolver({ store, oci: new OciBundleWatcher(), paths });
 * r.resolve(row.cgroupId)?.podName;
 */
export class MetadataResolver {
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly maxEntries: number;
  readonly stats: ResolverStats = { store: 0, cached: 0, oci: 0, cgroupPath: 0, unknown: 0 };
  #store: CgroupMetaSource | null;
  #oci: ContainerMetaSource | null;
  #paths: CgroupPathSource | null;
  #now: () => number;
  #cache = new Map<bigint, Cached>();
  // Bumped when a bundle appears or a cgroup walk ends: short-lived entries of an older
  // generation are stale, so a container seen before its bundle or its cgroup walk resolves on
  // the next call instead of after the negative TTL.
  #generation = 0;
  #unsubscribe: (() => void)[] = [];

  constructor(opts: MetadataResolverOptions = {}) {
    this.#store = opts.store ?? null;
    this.#oci = opts.oci ?? null;
    this.#paths = opts.paths ?? null;
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.negativeTtlMs = opts.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? 65_536;
    // Date.now is half the cost of performance.now on this hot path; a wall-clock step only
    // shortens or stretches a cache TTL once.
    this.#now = opts.now ?? Date.now;
    const bump = () => void this.#generation++;
    for (const stop of [this.#oci?.subscribe?.(bump), this.#paths?.subscribe?.(bump)]) {
      if (stop) this.#unsubscribe.push(stop);
    }
  }

  /** cgroups in the fallback cache (bounded by maxEntries). */
  get size(): number {
    return this.#cache.size;
  }

  /** Metadata of cgroup `cgroupId`, or null when no source knows it. */
  resolve(cgroupId: bigint): PodMeta | null {
    const fromStore = this.#store?.lookup(cgroupId);
    if (fromStore) {
      this.stats.store++;
      return fromStore;
    }
    const now = this.#now();
    const hit = this.#cache.get(cgroupId);
    if (hit && now < hit.expires && (hit.generation < 0 || hit.generation === this.#generation)) {
      this.stats.cached++;
      return hit.meta;
    }
    const [meta, final] = this.#fallback(cgroupId);
    if (meta === null) this.stats.unknown++;
    else if (meta.source === "oci") this.stats.oci++;
    else this.stats.cgroupPath++;
    this.#remember(cgroupId, meta, final, now);
    return meta;
  }

  /** Stops listening to the sources (which the caller still owns and closes). */
  close(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  /** The fallback answer, and whether it is final (cannot improve by asking again). */
  #fallback(cgroupId: bigint): [PodMeta | null, boolean] {
    const path = this.#paths?.pathOf(cgroupId);
    if (path === undefined) return [null, false]; // the cgroup may simply be newer than the walk
    const parsed = parseCgroupPath(path);
    // A path never changes for a live cgroup: not a container's now means never. Outside
    // pods, a host service is named by its systemd unit.
    if (parsed === null) {
      const unit = parseHostUnit(path);
      return [unit === null ? null : hostUnitMeta(unit), true];
    }
    if (parsed.containerId !== null) {
      const meta = this.#oci?.lookup(parsed.containerId);
      if (meta) return [meta, true];
    }
    return [{
      podName: null,
      podNamespace: null,
      podUid: parsed.podUid,
      containerName: null,
      containerId: parsed.containerId,
      image: null,
      source: "cgroup-path",
    }, this.#oci === null];
  }

  #remember(cgroupId: bigint, meta: PodMeta | null, final: boolean, now: number): void {
    // Amortized expiry: each insert drops a few expired entries from the oldest end, so a node
    // with churning cgroups holds the recently seen ones, not every cgroup up to the bound.
    this.#cache.delete(cgroupId);
    let n = 0;
    for (const [id, c] of this.#cache) {
      if (n++ >= 4 || c.expires > now) break;
      this.#cache.delete(id);
    }
    if (this.#cache.size >= this.maxEntries) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(cgroupId, {
      meta,
      expires: now + (final ? this.ttlMs : this.negativeTtlMs),
      generation: final ? -1 : this.#generation,
    });
  }
}
