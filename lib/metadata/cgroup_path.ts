/**
 * Pod and container ids read from a cgroup path alone: the last-resort metadata source when
 * neither NRI nor the runtime's OCI bundle knows a cgroup. Covers the paths kubelet and the CRI
 * runtimes (containerd, CRI-O, Docker, k3s) produce with the cgroupfs and systemd drivers.
 */

import { log } from "../log.ts";
import { detectCgroup2Mount } from "./cgroup_dir.ts";

/** Kubernetes QoS class, as encoded in the pod's parent cgroup. */
export type QosClass = "guaranteed" | "burstable" | "besteffort";
/** The runtime a cgroup name gives away; null when the name is a bare id. */
export type CgroupRuntime = "containerd" | "cri-o" | "docker";
/** How the cgroup tree was laid out: plain directories or systemd slices and scopes. */
export type CgroupDriver = "cgroupfs" | "systemd";

/** What a cgroup path says about its pod and container. */
export interface ParsedCgroupPath {
  /** Pod uid with dashes restored (systemd slice names carry `_` for `-`); null outside a pod. */
  podUid: string | null;
  /** QoS class from the pod's parent; null outside a pod. */
  qosClass: QosClass | null;
  /** 64-hex container (or sandbox: the path cannot tell) id; null for the pod cgroup itself. */
  containerId: string | null;
  /** Runtime named by the container's cgroup, null for a bare id under kubepods. */
  runtime: CgroupRuntime | null;
  /** Layout of the path. */
  driver: CgroupDriver;
  /** The cgroup is CRI-O's conmon monitor of the container, not the container. */
  conmon: boolean;
}

const ID = "[0-9a-f]{64}";
const BARE_ID = new RegExp(`^${ID}$`);
// Scope names of container cgroups under systemd; CRI-O's cgroupfs manager uses the same names
// without `.scope`.
const SCOPE = new RegExp(`^(cri-containerd|crio-conmon|crio|docker)-(${ID})(\\.scope)?$`);
// containerd's systemd-form cgroupsPath taken literally as one directory by a cgroupfs runc
// (a driver mismatch seen on real hosts): `<pod slice>:<prefix>:<id>`.
const COLON_FORM = new RegExp(`^([^:/]+\\.slice):(cri-containerd|crio|docker):(${ID})$`);
const POD_CGROUPFS = /^pod([A-Za-z0-9][A-Za-z0-9_-]*)$/;
// `kubepods-burstable-pod<uid>.slice`, possibly under a custom root (`kubelet-kubepods-…`).
const POD_SLICE =
  /^((?:[A-Za-z0-9_]+-)*kubepods)(?:-(burstable|besteffort))?-pod([A-Za-z0-9_]+)\.slice$/;

const RUNTIME_OF_PREFIX: Record<string, CgroupRuntime> = {
  "cri-containerd": "containerd",
  "crio": "cri-o",
  "crio-conmon": "cri-o",
  "docker": "docker",
};

interface Pod {
  uid: string;
  qos: QosClass;
  driver: CgroupDriver;
}

/**
 * Parses a cgroup path (relative to the cgroup mount, leading `/`) into pod and container ids;
 * null when the path is not a container's or a pod's cgroup.
 *
 * @example
 * parseCgroupPath("/kubepods/burstable/pod1d2c-77/4f…e1")
 * // → { podUid: "1d2c-77", qosClass: "burstable", containerId: "4f…e1", runtime: null, … }
 */
export function parseCgroupPath(path: string): ParsedCgroupPath | null {
  const segs = path.split("/").filter((s) => s !== "");
  if (segs.length === 0) return null;

  // Find the innermost pod cgroup; what follows it is the container (deeper levels are
  // sub-cgroups a container made for itself and still belong to it).
  for (let i = segs.length - 1; i >= 0; i--) {
    const pod = podOf(segs, i);
    if (pod === undefined) continue;
    if (pod === null) return null;
    if (i === segs.length - 1) {
      return {
        podUid: pod.uid,
        qosClass: pod.qos,
        containerId: null,
        runtime: null,
        driver: pod.driver,
        conmon: false,
      };
    }
    const c = containerOf(segs[i + 1]);
    if (!c) return null;
    return {
      podUid: pod.uid,
      qosClass: pod.qos,
      containerId: c.id,
      runtime: c.runtime,
      driver: pod.driver,
      conmon: c.conmon,
    };
  }

  // No pod: a container that the runtime placed without a parent.
  const leaf = segs[segs.length - 1];
  const colon = COLON_FORM.exec(leaf);
  if (colon) return fromColonForm(colon);
  const parent = segs.length >= 2 ? segs[segs.length - 2] : "";
  if (BARE_ID.test(leaf)) {
    // containerd's default `/<namespace>/<id>` (CRI namespace k8s.io) and Docker's `/docker/<id>`.
    if (parent === "k8s.io") return bare(leaf, "containerd", "cgroupfs");
    if (parent === "docker") return bare(leaf, "docker", "cgroupfs");
    return null;
  }
  const c = containerOf(leaf);
  if (!c || !c.scope) return null;
  return { ...bare(c.id, c.runtime, "systemd"), conmon: c.conmon };
}

function bare(id: string, runtime: CgroupRuntime | null, driver: CgroupDriver): ParsedCgroupPath {
  return { podUid: null, qosClass: null, containerId: id, runtime, driver, conmon: false };
}

/** The pod at segs[i]: Pod, undefined when segs[i] is no pod cgroup, null when it is malformed. */
function podOf(segs: string[], i: number): Pod | null | undefined {
  const s = segs[i];
  const slice = POD_SLICE.exec(s);
  if (slice) {
    const [, root, qos, uid] = slice;
    // Slice nesting is by name: the parent slice must be the pod slice's prefix.
    const parent = segs[i - 1];
    const want = qos ? `${root}-${qos}.slice` : `${root}.slice`;
    if (parent !== want) return null;
    return {
      uid: uid.replaceAll("_", "-"),
      qos: (qos as QosClass) ?? "guaranteed",
      driver: "systemd",
    };
  }
  const dir = POD_CGROUPFS.exec(s);
  if (!dir) return undefined;
  const parent = segs[i - 1];
  if (parent === "kubepods") return { uid: dir[1], qos: "guaranteed", driver: "cgroupfs" };
  if ((parent === "burstable" || parent === "besteffort") && segs[i - 2] === "kubepods") {
    return { uid: dir[1], qos: parent, driver: "cgroupfs" };
  }
  return undefined; // a directory that merely starts with "pod"
}

interface Container {
  id: string;
  runtime: CgroupRuntime | null;
  /** Named `<prefix>-<id>.scope` (systemd) rather than a bare directory. */
  scope: boolean;
  conmon: boolean;
}

function containerOf(s: string): Container | null {
  if (BARE_ID.test(s)) return { id: s, runtime: null, scope: false, conmon: false };
  const m = SCOPE.exec(s);
  if (!m) return null;
  const [, prefix, id, scope] = m;
  // Only CRI-O's cgroupfs manager names directories `crio-<id>` without `.scope`.
  if (!scope && prefix !== "crio" && prefix !== "crio-conmon") return null;
  return {
    id,
    runtime: RUNTIME_OF_PREFIX[prefix],
    scope: scope !== undefined,
    conmon: prefix === "crio-conmon",
  };
}

function fromColonForm(m: RegExpExecArray): ParsedCgroupPath | null {
  const [, slice, prefix, id] = m;
  const pod = POD_SLICE.exec(slice);
  if (!pod) return bare(id, RUNTIME_OF_PREFIX[prefix], "cgroupfs");
  const [, , qos, uid] = pod;
  return {
    podUid: uid.replaceAll("_", "-"),
    qosClass: (qos as QosClass) ?? "guaranteed",
    containerId: id,
    runtime: RUNTIME_OF_PREFIX[prefix],
    driver: "cgroupfs",
    conmon: false,
  };
}

/** No cgroup2 hierarchy is mounted, so cgroup ids cannot be mapped to paths. */
export class NoCgroup2Error extends Error {
  override name = "NoCgroup2Error";
  constructor() {
    super("no cgroup2 hierarchy is mounted; mount cgroup2 or pass the root explicitly");
  }
}

/** Options of a CgroupPathIndex. */
export interface CgroupPathIndexOptions {
  /** cgroup2 mount to walk (default: detectCgroup2Mount()). */
  root?: string;
  /** Least time between two walks of the tree, ms (default 2000). */
  minRewalkMs?: number;
  /** Most directories one walk visits (default 100 000). */
  maxEntries?: number;
  /** Clock in ms; inject one in tests. */
  now?: () => number;
}

/** Default least time between two walks. */
export const DEFAULT_REWALK_MS = 2000;
/** Default bound on the directories one walk visits. */
export const DEFAULT_MAX_CGROUPS = 100_000;

/**
 * cgroup id (the cgroup2 directory's inode, as BPF reports it) → path relative to the cgroup2
 * mount. Built lazily: an unknown id starts a walk of the tree in the background, at most once
 * per `minRewalkMs`, so lookups never block on the walk (tens of ms for a few hundred cgroups)
 * and a stream of ids that never resolve costs one walk per interval.
 */
export class CgroupPathIndex {
  readonly root: string;
  readonly minRewalkMs: number;
  readonly maxEntries: number;
  #now: () => number;
  #paths = new Map<bigint, string>();
  #lastWalk = -Infinity;
  #walks = 0;
  #walking: Promise<number> | null = null;
  #listeners = new Set<() => void>();
  #warnedFull = false;

  constructor(opts: CgroupPathIndexOptions = {}) {
    const root = opts.root ?? detectCgroup2Mount();
    if (root === null) throw new NoCgroup2Error();
    this.root = root.replace(/\/+$/, "") || "/";
    this.minRewalkMs = opts.minRewalkMs ?? DEFAULT_REWALK_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_CGROUPS;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** cgroups known from the last walk (bounded by maxEntries). */
  get size(): number {
    return this.#paths.size;
  }

  /** Walks started so far. */
  get walks(): number {
    return this.#walks;
  }

  /** The walk under way, if any (resolves to the directories seen). */
  get pending(): Promise<number> | null {
    return this.#walking;
  }

  /**
   * Path of cgroup `id` relative to the mount (`/` for the root), or undefined if it was not
   * there at the last walk (a new walk then starts in the background, if the interval allows).
   */
  pathOf(id: bigint): string | undefined {
    const p = this.#paths.get(id);
    if (p !== undefined) return p;
    if (this.#walking === null && this.#now() - this.#lastWalk >= this.minRewalkMs) {
      this.refresh().catch((err) =>
        log.warn("cgroup walk failed", { root: this.root, error: String(err) })
      );
    }
    return undefined;
  }

  /**
   * Walks the tree now (or joins the walk under way), replacing what is known so gone cgroups
   * drop out; resolves to the directories seen. Await it once at start-up.
   */
  refresh(): Promise<number> {
    if (this.#walking) return this.#walking;
    this.#lastWalk = this.#now();
    this.#walks++;
    this.#walking = this.#walk().finally(() => (this.#walking = null));
    return this.#walking;
  }

  /** Every (cgroup id, path) of the last walk (for `podperf pods`). */
  entries(): IterableIterator<[bigint, string]> {
    return this.#paths.entries();
  }

  /** Calls `fn` after each walk; returns the function that stops it. */
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  async #walk(): Promise<number> {
    const paths = new Map<bigint, string>();
    const stack: string[] = ["/"];
    while (stack.length > 0) {
      if (paths.size >= this.maxEntries) {
        if (!this.#warnedFull) {
          this.#warnedFull = true;
          log.warn("cgroup tree larger than the index bound; some cgroups stay unresolved", {
            root: this.root,
            maxEntries: this.maxEntries,
          });
        }
        break;
      }
      const rel = stack.pop()!;
      const abs = rel === "/" ? this.root : this.root + rel;
      try {
        const ino = (await Deno.stat(abs)).ino;
        if (ino === null) continue;
        paths.set(BigInt(ino), rel);
        for await (const e of Deno.readDir(abs)) {
          if (e.isDirectory) stack.push(rel === "/" ? `/${e.name}` : `${rel}/${e.name}`);
        }
      } catch (err) {
        // A cgroup removed while we walk is normal; anything else would repeat on every walk.
        if (!(err instanceof Deno.errors.NotFound)) {
          log.debug("cgroup walk skipped a directory", { path: abs, error: String(err) });
        }
      }
    }
    this.#paths = paths;
    for (const fn of this.#listeners) fn();
    return paths.size;
  }
}
