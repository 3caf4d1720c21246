/**
 * From a container's `linux.cgroups_path` to its cgroup2 directory and inode (the cgroup id that
 * `bpf_get_current_cgroup_id` reports), for cgroupfs and systemd path forms and for pure v2 and
 * v1-hybrid mounts (NRI-FACTS §13).
 */

/** A cgroups_path the resolver cannot make sense of. */
export class CgroupPathError extends Error {
  override name = "CgroupPathError";
  constructor(readonly cgroupsPath: string, reason: string) {
    super(`cannot map cgroups_path "${cgroupsPath}": ${reason}`);
  }
}

/**
 * Expands a systemd slice name to its path: `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`,
 * `-.slice` → `/` (as runc's systemd driver does).
 */
export function expandSlice(slice: string): string {
  if (!slice.endsWith(".slice") || slice.includes("/")) {
    throw new CgroupPathError(slice, "a slice name ends in .slice and has no /");
  }
  if (slice === "-.slice") return "/";
  const name = slice.slice(0, -".slice".length);
  const parts = name.split("-");
  if (parts.some((p) => p === "")) throw new CgroupPathError(slice, "empty slice component");
  let path = "", prefix = "";
  for (const p of parts) {
    prefix = prefix === "" ? p : `${prefix}-${p}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/**
 * Candidate directories (relative to a cgroup2 mount, starting with `/`) for a cgroups_path,
 * best first. A systemd-form path also yields its literal form, which is what runc's cgroupfs
 * driver creates when handed a systemd string (the driver mismatch seen in NRI-FACTS §13).
 */
export function cgroupsPathToDirs(cgroupsPath: string): string[] {
  if (cgroupsPath === "") throw new CgroupPathError(cgroupsPath, "empty");
  if (cgroupsPath.startsWith("/")) return [normalize(cgroupsPath)];
  const parts = cgroupsPath.split(":");
  if (parts.length !== 3) {
    throw new CgroupPathError(
      cgroupsPath,
      "neither /absolute (cgroupfs) nor slice:prefix:name (systemd)",
    );
  }
  const [slice, prefix, name] = parts;
  const base = slice === "" ? "/" : expandSlice(slice);
  const leaf = name.endsWith(".slice") ? name : `${prefix}-${name}.scope`;
  const dir = normalize(`${base}/${leaf}`);
  return [dir, `/${cgroupsPath}`];
}

function normalize(p: string): string {
  const out = p.replace(/\/+/g, "/");
  return out.length > 1 && out.endsWith("/") ? out.slice(0, -1) : out;
}

/**
 * The cgroup2 mount point: `/sys/fs/cgroup` on a pure v2 host, `/sys/fs/cgroup/unified` on a
 * v1-hybrid host, else the first cgroup2 mount in /proc/self/mountinfo; null without cgroup2.
 */
export function detectCgroup2Mount(sysRoot = "/sys/fs/cgroup"): string | null {
  for (const dir of [sysRoot, `${sysRoot}/unified`]) {
    // cgroup.controllers exists only at the root of a cgroup2 hierarchy.
    if (exists(`${dir}/cgroup.controllers`)) return dir;
  }
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
      const sep = line.indexOf(" - ");
      if (sep < 0) continue;
      if (line.slice(sep + 3).startsWith("cgroup2 ")) return line.split(" ")[4];
    }
  } catch { /* no /proc */ }
  return null;
}

/** The cgroup2 path of a process (the `0::` line of /proc/PID/cgroup), or null if gone. */
export function readProcCgroup2(pid: number, procRoot = "/proc"): string | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${procRoot}/${pid}/cgroup`);
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    if (line.startsWith("0::")) return line.slice(3).replace(/ \(deleted\)$/, "");
  }
  return null;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function inodeOf(path: string): bigint | null {
  try {
    const st = Deno.statSync(path);
    return st.isDirectory && st.ino !== null ? BigInt(st.ino) : null;
  } catch {
    return null;
  }
}

/** A found cgroup directory. */
export interface CgroupResolution {
  /** cgroup2 inode = cgroup id. */
  inode: bigint;
  /** Directory relative to the mount. */
  dir: string;
  /** How it was found: from cgroups_path, or from /proc/PID/cgroup. */
  via: "path" | "proc";
  /** /proc/PID/cgroup said another directory than cgroups_path (null when not checked). */
  procMismatch: string | null;
}

/** Options of a CgroupResolver; overrides are for tests. */
export interface CgroupResolverOptions {
  /** cgroup2 mount point (default: detected). */
  mount?: string | null;
  /** Where /proc is (default "/proc"). */
  procRoot?: string;
}

/** Finds the cgroup2 inode of a container from its cgroups_path and, when known, its pid. */
export class CgroupResolver {
  readonly mount: string | null;
  readonly procRoot: string;

  constructor(opts: CgroupResolverOptions = {}) {
    this.mount = opts.mount !== undefined ? opts.mount : detectCgroup2Mount();
    this.procRoot = opts.procRoot ?? "/proc";
  }

  /**
   * Resolves a container's cgroup: the directory named by `cgroupsPath` if it exists, else the
   * process's own (`pid` > 0). Null when neither is there (not created yet, or gone).
   * Throws CgroupPathError for a cgroups_path of no known form.
   */
  resolve(cgroupsPath: string | null, pid = 0): CgroupResolution | null {
    if (this.mount === null) return null;
    const procDir = pid > 0 ? readProcCgroup2(pid, this.procRoot) : null;
    if (cgroupsPath) {
      for (const dir of cgroupsPathToDirs(cgroupsPath)) {
        const inode = inodeOf(this.mount + dir);
        if (inode !== null) {
          const procMismatch = procDir !== null && procDir !== dir ? procDir : null;
          return { inode, dir, via: "path", procMismatch };
        }
      }
    }
    // "/" means we do not share the host's cgroup namespace: the path says nothing then.
    if (procDir !== null && procDir !== "/") {
      const inode = inodeOf(this.mount + procDir);
      if (inode !== null) return { inode, dir: procDir, via: "proc", procMismatch: null };
    }
    return null;
  }
}
