/**
 * Starts a private containerd (Debian's 1.7.24 from .cache/containerd) with its root, state,
 * sockets and log in one temp dir, CRI configured for this host (cgroupfs, host-network pods,
 * no CNI, restrict_oom_score_adj) and NRI on or off; and tears it all down again.
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { log } from "../../lib/log.ts";
import {
  cgroupDirsOf,
  DEFAULT_CGROUP_PARENT,
  existingAncestors,
  forgetCgroupParents,
  removeCgroupTree,
  removeIfEmpty,
  trackCgroupParent,
  trackedCgroupParents,
} from "./cgroup.ts";
import { CriClient } from "./cri_client.ts";
import { ensureRuntimeFetched, RUNTIME_FILES } from "./runtime_files.ts";
import { SANDBOX_IMAGE, sandboxImageTarball } from "./sandbox_image.ts";

/** Options for `startContainerd`. */
export interface ContainerdOptions {
  /** Enable the NRI plugin socket at `<dir>/nri.sock` (default true). */
  nri?: boolean;
  /** Milliseconds to wait for the CRI to answer after a (re)start (default 15000). */
  readyTimeoutMs?: number;
}

/** containerd did not come up, or died while starting. */
export class ContainerdStartError extends Error {
  /** Carries the log path and its last lines. */
  constructor(readonly logPath: string, readonly reason: string, readonly logTail: string) {
    super(`containerd did not start: ${reason} (log ${logPath}):\n${logTail}`);
    this.name = "ContainerdStartError";
  }
}

/** A `ctr` invocation failed. */
export class CtrError extends Error {
  /** Carries the arguments, exit code and stderr. */
  constructor(readonly args: string[], readonly exitCode: number, readonly stderr: string) {
    super(`ctr ${args.join(" ")} exited ${exitCode}: ${stderr.trim()}`);
    this.name = "CtrError";
  }
}

/** cleanup() could not remove something; the data says what is left. */
export class CleanupError extends Error {
  /** Carries what was left behind. */
  constructor(readonly leftovers: string[]) {
    super(`containerd harness cleanup left: ${leftovers.join(", ")}`);
    this.name = "CleanupError";
  }
}

/** The namespace the CRI plugin uses for everything it creates. */
export const CRI_NAMESPACE = "k8s.io";
// The runc shim's default runc root (containerd 1.7): one folder per namespace.
const RUNC_ROOT = `/run/containerd/runc/${CRI_NAMESPACE}`;
// Shims listen on /run/containerd/s/<sha256(address/ns/id)> whatever containerd's state dir is.
const SHIM_SOCKET_DIR = "/run/containerd/s";

function q(s: string): string {
  return JSON.stringify(s); // a TOML basic string for plain paths
}

/**
 * containerd config lines that switch off the snapshotters and tracing that cannot work on a
 * test host or guest: they only slow the start down and log errors.
 */
export const DISABLED_PLUGINS = `disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]`;

function configToml(dir: string, nri: boolean): string {
  return `version = 2
root = ${q(`${dir}/root`)}
state = ${q(`${dir}/state`)}
${DISABLED_PLUGINS}

[grpc]
  address = ${q(`${dir}/containerd.sock`)}
[ttrpc]
  address = ${q(`${dir}/containerd.sock.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(`${dir}/opt`)}

[plugins."io.containerd.nri.v1.nri"]
  disable = ${!nri}
  socket_path = ${q(`${dir}/nri.sock`)}
  plugin_path = ${q(`${dir}/nri/plugins`)}
  plugin_config_path = ${q(`${dir}/nri/conf.d`)}
  plugin_registration_timeout = "5s"
  plugin_request_timeout = "2s"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(SANDBOX_IMAGE)}
  # No CAP_SYS_RESOURCE here: the sandbox's oom_score_adj -998 would be refused.
  restrict_oom_score_adj = true
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroupfs: this host has no systemd.
        SystemdCgroup = false
        BinaryName = ${q(RUNTIME_FILES.runc)}
  # No CNI: pods use host networking; empty dirs keep the CNI plugin from finding anything.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(`${dir}/cni/bin`)}
    conf_dir = ${q(`${dir}/cni/net.d`)}
`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(path: string, bytes = 4000): string {
  try {
    const text = readFileSync(path, "utf8");
    return text.slice(-bytes);
  } catch {
    return "(no log)";
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/** True while `pid` exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    // A zombie has exited; only its parent's wait is missing.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
}

/** One private containerd instance and everything it created. */
export class Containerd {
  /** The CRI (and containerd API) gRPC socket path. */
  readonly criSocket: string;
  /** Where containerd listens for NRI plugins (exists only when started with nri on). */
  readonly nriSocket: string;
  /** containerd's stdout+stderr (logrus text lines). */
  readonly logPath: string;
  readonly #config: string;
  #child: Deno.ChildProcess | null = null;
  #exited: Deno.CommandStatus | null = null;
  #cleaned = false;
  // Created before us: maybe in use by a parallel run, so cleanup never removes them.
  readonly #keepAncestors = existingAncestors();

  /** Use `startContainerd`; the constructor only lays out paths. */
  constructor(readonly dir: string, readonly nri: boolean, readonly readyTimeoutMs: number) {
    this.criSocket = `${dir}/containerd.sock`;
    this.nriSocket = `${dir}/nri.sock`;
    this.logPath = `${dir}/containerd.log`;
    this.#config = `${dir}/config.toml`;
  }

  /** The containerd pid, or null when it is not running. */
  get pid(): number | null {
    return this.#child && !this.#exited ? this.#child.pid : null;
  }

  /** Writes the config, starts containerd and waits until the CRI answers. */
  async start(): Promise<void> {
    if (this.pid !== null) return;
    if (this.#cleaned) throw new ContainerdStartError(this.logPath, "already cleaned up", "");
    await Deno.mkdir(`${this.dir}/cni/net.d`, { recursive: true });
    await Deno.mkdir(`${this.dir}/cni/bin`, { recursive: true });
    await Deno.writeTextFile(this.#config, configToml(this.dir, this.nri));
    const path = [...RUNTIME_FILES.binDirs, Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"]
      .join(":");
    // sh only redirects and execs, so the child pid is containerd's own.
    this.#exited = null;
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'exec "$0" --config "$1" >>"$2" 2>&1',
        RUNTIME_FILES.containerd,
        this.#config,
        this.logPath,
      ],
      env: { PATH: path },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    child.status.then((s) => {
      if (this.#child === child) this.#exited = s;
    });
    await this.#waitReady();
  }

  async #waitReady(): Promise<void> {
    const t0 = performance.now();
    const deadline = Date.now() + this.readyTimeoutMs;
    let lastErr = "";
    while (true) {
      if (this.#exited) {
        throw new ContainerdStartError(
          this.logPath,
          `exited with code ${this.#exited.code}`,
          tail(this.logPath),
        );
      }
      if (Date.now() > deadline) {
        const why = `CRI not ready after ${this.readyTimeoutMs} ms (${lastErr})`;
        throw new ContainerdStartError(this.logPath, why, tail(this.logPath));
      }
      if (existsSync(this.criSocket) && (!this.nri || existsSync(this.nriSocket))) {
        try {
          const cri = await CriClient.connect(this.criSocket);
          try {
            await cri.version();
          } finally {
            cri.close();
          }
          break;
        } catch (e) {
          lastErr = String(e);
        }
      }
      await sleep(20);
    }
    log.debug("containerd ready", {
      dir: this.dir,
      pid: this.pid,
      ms: Math.round(performance.now() - t0),
    });
  }

  /** Imports the busybox image into the CRI namespace and waits until the CRI sees it. */
  async importImage(): Promise<void> {
    await this.ctr(
      "-n",
      CRI_NAMESPACE,
      "images",
      "import",
      "--platform",
      "linux/amd64",
      await sandboxImageTarball(),
    );
    const cri = await CriClient.connect(this.criSocket);
    try {
      const deadline = Date.now() + 10_000;
      while (!(await cri.hasImage(SANDBOX_IMAGE))) {
        if (Date.now() > deadline) {
          throw new ContainerdStartError(
            this.logPath,
            `CRI never listed ${SANDBOX_IMAGE}`,
            tail(this.logPath),
          );
        }
        await sleep(20);
      }
    } finally {
      cri.close();
    }
  }

  /** Runs `ctr --address <criSocket> …args`; returns stdout, throws CtrError on failure. */
  async ctr(...args: string[]): Promise<string> {
    const out = await run(RUNTIME_FILES.ctr, ["--address", this.criSocket, ...args]);
    if (!out.success) {
      throw new CtrError(args, out.code, new TextDecoder().decode(out.stderr));
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** The containerd log so far (it is deleted with the temp dir by cleanup()). */
  readLog(): string {
    return readFileSync(this.logPath, "utf8");
  }

  /** Pids of the runc shims this containerd started (they outlive a containerd crash). */
  shimPids(): number[] {
    const pids: number[] = [];
    for (const e of Deno.readDirSync("/proc")) {
      const pid = Number(e.name);
      if (!Number.isInteger(pid)) continue;
      const argv = cmdline(pid);
      if (!argv[0]?.endsWith("containerd-shim-runc-v2")) continue;
      const a = argv.indexOf("-address");
      if (a >= 0 && argv[a + 1] === this.criSocket && processAlive(pid)) pids.push(pid);
    }
    return pids;
  }

  /** Kills containerd with SIGKILL, as a crash would; shims and containers keep running. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || this.#exited) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    this.#exited = await child.status;
  }

  async #terminate(graceMs: number): Promise<void> {
    const child = this.#child;
    if (!child || this.#exited) return;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const done = await Promise.race([child.status, sleep(graceMs).then(() => null)]);
    if (done) this.#exited = done;
    else await this.kill();
  }

  /** Starts containerd again on the same dirs and sockets (after kill() or stop()). */
  async restart(): Promise<void> {
    await this.#terminate(5000);
    await this.start();
  }

  /**
   * Stops containerd (SIGTERM, SIGKILL after 5 s), then its shims and every container they
   * ran (`runc delete --force`, which also removes the containers' cgroups). Like a node going
   * down: after restart() the CRI lists the pods as not ready.
   */
  async stop(): Promise<void> {
    await this.#terminate(5000);
    for (const pid of this.shimPids()) {
      const argv = cmdline(pid);
      const id = argv[argv.indexOf("-id") + 1];
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
      // The shim's socket is left behind by SIGKILL; its name is containerd 1.7's hash.
      if (id) {
        const hash = createHash("sha256").update(`${this.criSocket}/${CRI_NAMESPACE}/${id}`)
          .digest("hex");
        await Deno.remove(`${SHIM_SOCKET_DIR}/${hash}`).catch(() => {});
      }
    }
    await this.#deleteRuncContainers();
  }

  async #deleteRuncContainers(): Promise<void> {
    if (!existsSync(RUNC_ROOT)) return;
    const out = await run(RUNTIME_FILES.runc, ["--root", RUNC_ROOT, "list", "--format", "json"]);
    if (!out.success) return;
    const list = JSON.parse(new TextDecoder().decode(out.stdout) || "null") as
      | { id: string; bundle: string }[]
      | null;
    // Other harness runs share runc's root: only our bundles live under our state dir.
    for (const c of list ?? []) {
      if (!c.bundle.startsWith(this.dir + "/")) continue;
      const del = await run(RUNTIME_FILES.runc, ["--root", RUNC_ROOT, "delete", "--force", c.id]);
      if (!del.success) {
        log.warn("runc delete failed", {
          id: c.id,
          stderr: new TextDecoder().decode(del.stderr).trim(),
        });
      }
    }
  }

  async #removeAllPods(): Promise<void> {
    const cri = await CriClient.connect(this.criSocket);
    try {
      for (const pod of await cri.listPodSandboxes()) {
        try {
          const st = await cri.podSandboxStatus(pod.id);
          const parent = (st.info.info as { config?: { linux?: { cgroup_parent?: string } } })
            ?.config?.linux?.cgroup_parent;
          if (parent) trackCgroupParent(this.criSocket, parent);
          await cri.stopPodSandbox(pod.id);
          await cri.removePodSandbox(pod.id);
        } catch (e) {
          log.warn("harness: could not remove pod via CRI", { id: pod.id, error: String(e) });
        }
      }
    } finally {
      cri.close();
    }
  }

  #mountsUnderDir(): string[] {
    const mounts: string[] = [];
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const mp = line.split(" ")[4];
      if (mp && (mp === this.dir || mp.startsWith(this.dir + "/"))) {
        mounts.push(mp.replace(/\\040/g, " "));
      }
    }
    return mounts.sort((a, b) => b.length - a.length); // children before parents
  }

  /**
   * Removes everything this instance made: pods and containers (via CRI while containerd is up),
   * containerd, shims, leftover containers, mounts, the cgroup parents of its pods in every
   * hierarchy, and the temp dir. Idempotent; safe in `finally`. Throws CleanupError if
   * something could not be removed.
   */
  async cleanup(): Promise<void> {
    if (this.#cleaned) return;
    const leftovers: string[] = [];
    if (this.pid !== null) {
      await this.#removeAllPods().catch((e) =>
        log.warn("harness: CRI cleanup failed", { error: String(e) })
      );
    }
    await this.stop();
    for (const pid of this.shimPids()) leftovers.push(`shim pid ${pid}`);
    for (const mp of this.#mountsUnderDir()) {
      const out = await run("umount", [mp]);
      if (!out.success) await run("umount", ["-l", mp]);
    }
    for (const parent of trackedCgroupParents(this.criSocket)) {
      // Shared by every pod without a parent (other runs' too): the containers' own dirs
      // went with runc delete; the parent goes only once nobody uses it.
      if (parent === DEFAULT_CGROUP_PARENT) {
        if (!this.#keepAncestors.has(parent)) removeIfEmpty(parent);
        continue;
      }
      leftovers.push(...await removeCgroupTree(parent, this.#keepAncestors));
      leftovers.push(...cgroupDirsOf(parent));
    }
    forgetCgroupParents(this.criSocket);
    const mounts = this.#mountsUnderDir();
    if (mounts.length > 0) {
      // Never rm -rf through a live mount.
      leftovers.push(...mounts.map((m) => `mount ${m}`));
    } else {
      await Deno.remove(this.dir, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) leftovers.push(`${this.dir}: ${e}`);
      });
    }
    this.#cleaned = true;
    if (leftovers.length > 0) throw new CleanupError([...new Set(leftovers)]);
  }
}

/**
 * Starts a private containerd with CRI (and NRI unless `nri: false`), imports the busybox
 * image, and returns the handle. Fetches the runtime first if .cache/containerd is missing.
 */
export async function startContainerd(opts: ContainerdOptions = {}): Promise<Containerd> {
  await ensureRuntimeFetched();
  const dir = await Deno.makeTempDir({ prefix: "podperf-ctrd-" });
  const c = new Containerd(dir, opts.nri ?? true, opts.readyTimeoutMs ?? 15_000);
  try {
    await c.start();
    await c.importImage();
  } catch (e) {
    await c.cleanup().catch(() => {});
    throw e;
  }
  return c;
}
