/**
 * cgroup helpers for tests: where a process sits in the cgroup2 tree, the inode the BPF side
 * sees as its cgroup id, and removal of the cgroup parents a test run created (in every
 * hierarchy: this host is v1 hybrid with cgroup2 at /sys/fs/cgroup/unified).
 */

import { existsSync, readFileSync } from "node:fs";

/** Thrown when a cgroup path or directory is not what the caller needs. */
export class CgroupError extends Error {
  /** Carries the path involved. */
  constructor(readonly path: string, message: string) {
    super(`${message}: ${path}`);
    this.name = "CgroupError";
  }
}

/** Mount points of every cgroup hierarchy (v1 controllers and cgroup2), from mountinfo. */
export function cgroupMounts(): { path: string; v2: boolean }[] {
  const out: { path: string; v2: boolean }[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const fstype = post.split(" ")[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({ path: pre.split(" ")[4], v2: fstype === "cgroup2" });
  }
  return out;
}

/** The cgroup2 mount point (`/sys/fs/cgroup/unified` here, `/sys/fs/cgroup` on pure v2). */
export function cgroup2Root(): string {
  const m = cgroupMounts().find((m) => m.v2);
  if (!m) throw new CgroupError("/proc/self/mountinfo", "no cgroup2 mount");
  return m.path;
}

/** The cgroup2 path of a process (the `0::` line of /proc/PID/cgroup), e.g. `/kubepods/…/<id>`. */
export function procCgroup2Path(pid: number): string {
  const text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  const line = text.split("\n").find((l) => l.startsWith("0::"));
  if (line === undefined) throw new CgroupError(`/proc/${pid}/cgroup`, "no 0:: line");
  return line.slice(3);
}

/** Absolute cgroup2 directory of a relative cgroup path. */
export function cgroup2Dir(relPath: string): string {
  return cgroup2Root() + relPath;
}

/** The inode of a cgroup2 directory = the id `bpf_get_current_cgroup_id` returns. */
export function cgroupInode(dir: string): bigint {
  const ino = Deno.statSync(dir).ino;
  if (ino === null) throw new CgroupError(dir, "stat gave no inode");
  return BigInt(ino);
}

/** Hierarchy directories (absolute) in which `relPath` currently exists. */
export function cgroupDirsOf(relPath: string): string[] {
  return cgroupMounts().map((m) => m.path + relPath).filter((d) => existsSync(d));
}

/** containerd's cgroup for pods without a parent: containers land in `/k8s.io/<id>`. */
export const DEFAULT_CGROUP_PARENT = "/k8s.io";

const parents = new Map<string, Set<string>>();

/** The kubelet-style ancestors that exist now (in the cgroup2 tree), to leave them alone. */
export function existingAncestors(): Set<string> {
  const root = cgroup2Root();
  const out = new Set<string>();
  for (
    const p of ["/kubepods", "/kubepods/burstable", "/kubepods/besteffort", DEFAULT_CGROUP_PARENT]
  ) {
    if (existsSync(root + p)) out.add(p);
  }
  return out;
}

/** Records that pods with this cgroup parent were run against the CRI socket `socket`. */
export function trackCgroupParent(socket: string, parent: string): void {
  let set = parents.get(socket);
  if (!set) parents.set(socket, set = new Set());
  set.add(parent);
}

/** The cgroup parents recorded for `socket`. */
export function trackedCgroupParents(socket: string): string[] {
  return [...(parents.get(socket) ?? [])];
}

/** Forgets the parents recorded for `socket` (after they were removed). */
export function forgetCgroupParents(socket: string): void {
  parents.delete(socket);
}

/** Removes the shared default parent in every hierarchy if it is empty; never waits. */
export function removeIfEmpty(relPath: string): void {
  for (const m of cgroupMounts()) {
    try {
      Deno.removeSync(m.path + relPath);
    } catch {
      // missing, or still holding someone's containers
    }
  }
}

function rmdirTree(dir: string): void {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) rmdirTree(`${dir}/${e.name}`);
  }
  // On cgroupfs rmdir removes a directory despite its interface files.
  Deno.removeSync(dir);
}

/**
 * Removes `relPath` and everything below it in every hierarchy, then its ancestors that
 * start with one of `ancestorPrefixes` (e.g. `/kubepods`) if they are empty and not in
 * `keepAncestors` (those that existed before this run, so another run may be using them). Retries while
 * the kernel still reports busy (processes just killed). Returns the dirs left behind.
 */
export async function removeCgroupTree(
  relPath: string,
  keepAncestors: ReadonlySet<string> = new Set(),
  ancestorPrefixes: readonly string[] = ["/kubepods", "/k8s.io"],
  waitMs = 3000,
): Promise<string[]> {
  if (!relPath.startsWith("/") || relPath === "/" || relPath.includes("..")) {
    throw new CgroupError(relPath, "refusing to remove this cgroup path");
  }
  const left: string[] = [];
  const deadline = Date.now() + waitMs;
  for (const m of cgroupMounts()) {
    const dir = m.path + relPath;
    while (existsSync(dir)) {
      try {
        rmdirTree(dir);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue;
        if (Date.now() > deadline) {
          left.push(dir);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Ancestors may hold other runs' pods: remove only when empty, never wait for them.
    let anc = relPath.slice(0, relPath.lastIndexOf("/"));
    while (
      anc && !keepAncestors.has(anc) &&
      ancestorPrefixes.some((p) => anc === p || anc.startsWith(p + "/"))
    ) {
      try {
        Deno.removeSync(m.path + anc);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) break; // busy: someone else's pods
      }
      anc = anc.slice(0, anc.lastIndexOf("/"));
    }
  }
  return left;
}
