/**
 * The in-guest half of the node tier (run by scripts/node_vm/guest_entry.sh inside the VM):
 * starts containerd as a systemd unit with the systemd cgroup driver and NRI on, makes pods
 * through the same CRI client the host tests use with the cgroup parents kubelet's systemd
 * driver passes, runs `podperf collect` with NRI and then with only the cgroup-path fallback,
 * `podperf pods`, and a CPU-bound process in its own cgroup for accuracy. It asserts nothing:
 * it writes facts, logs and the Parquet files to the results dir, and the host-side test
 * (tests/node/vm_tier.ts) judges them, so a failure shows up with all the evidence on the host.
 *
 * Usage (guest, as root): deno run -A tests/node/guest/run.ts <results dir>
 */

import { existsSync, readFileSync } from "node:fs";
import {
  cgroup2Dir,
  cgroupInode,
  CriClient,
  DISABLED_PLUGINS,
  type PodSpec,
  procCgroup2Path,
  RUNTIME_FILES,
  SANDBOX_IMAGE,
} from "../../harness/mod.ts";
import { sandboxImageTarball } from "../../harness/sandbox_image.ts";
import { PodperfProcess } from "../../e2e/podperf_process.ts";
import type { GuestContainer, GuestFacts, GuestPod, GuestReport, RunOutcome } from "./report.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/deno/deno`;
const results = Deno.args[0] ?? "/results";
// containerd's own defaults, as on a real node: podperf's defaults find them unaided.
const CONFIG = "/etc/containerd/config.toml";
const CRI_SOCKET = "/run/containerd/containerd.sock";
const NRI_SOCKET = "/var/run/nri/nri.sock";
const BUSY = ["sh", "-c", "while :; do :; done"];
const IDLE = ["sleep", "3600"];

const t0 = Date.now();
const timings: Record<string, number> = {};
function mark(step: string): void {
  timings[step] = Date.now() - t0;
  console.log(`guest: ${step} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Runs a command; `out` is its stdout then its stderr, `stdout` alone (what a reader parses). */
async function sh(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; stdout: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(o.stdout);
  return { code: o.code, out: stdout + dec.decode(o.stderr), stdout };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const configToml = `version = 2
${DISABLED_PLUGINS}

[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = "${NRI_SOCKET}"
  # Emulated (TCG) CPUs run podperf some 20-50x slower than a real node, with busy pods on
  # every vCPU: the defaults (5 s to register, 2 s per request) were missed here.
  plugin_registration_timeout = "60s"
  plugin_request_timeout = "30s"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
        BinaryName = "${RUNTIME_FILES.runc}"
  # No CNI: pods use host networking.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`;

/** Starts containerd as `containerd.service` (delegated, like the Debian unit) and waits for CRI. */
async function startContainerd(): Promise<CriClient> {
  await Deno.mkdir("/etc/containerd", { recursive: true });
  await Deno.mkdir("/opt/cni/bin", { recursive: true });
  await Deno.mkdir("/etc/cni/net.d", { recursive: true });
  await Deno.writeTextFile(CONFIG, configToml);
  const path = [...RUNTIME_FILES.binDirs, "/usr/sbin:/usr/bin:/sbin:/bin"].join(":");
  const r = await sh("systemd-run", [
    "--unit=containerd",
    "--property=Delegate=yes",
    "--property=KillMode=process",
    "--property=LimitNOFILE=infinity",
    `--setenv=PATH=${path}`,
    RUNTIME_FILES.containerd,
    "--config",
    CONFIG,
  ]);
  if (r.code !== 0) throw new Error(`systemd-run containerd failed: ${r.out}`);
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    if (existsSync(CRI_SOCKET) && existsSync(NRI_SOCKET)) {
      try {
        const cri = await CriClient.connect(CRI_SOCKET);
        await cri.version();
        return cri;
      } catch (e) {
        last = String(e);
      }
    }
    await sleep(250);
  }
  throw new Error(`containerd not ready after 120 s: ${last}`);
}

/** The cgroup parent kubelet's systemd driver passes: the pod's slice name alone. */
function systemdParent(qos: "burstable" | "besteffort", uid: string): string {
  return `kubepods-${qos}-pod${uid.replaceAll("-", "_")}.slice`;
}

async function makePod(
  cri: CriClient,
  name: string,
  qos: "burstable" | "besteffort",
  containers: { name: string; busy: boolean }[],
  createdAfterStart: boolean,
): Promise<GuestPod> {
  const uid = crypto.randomUUID();
  const spec: PodSpec = {
    name,
    namespace: `node-${qos}`,
    uid,
    cgroupParent: systemdParent(qos, uid),
  };
  const podId = await cri.runPodSandbox(spec);
  const out: GuestContainer[] = [];
  for (const c of containers) {
    const id = await cri.createContainer(podId, spec, {
      name: c.name,
      command: c.busy ? BUSY : IDLE,
    });
    await cri.startContainer(id);
    // What kubelet sets for these QoS classes: a 250m request with a 300m limit (burstable),
    // the minimum weight (best effort). It also keeps the emulated vCPUs from being saturated
    // by busy loops that would starve podperf under TCG.
    await cri.updateContainerResources(
      id,
      qos === "burstable" ? { cpuShares: 256, cpuQuota: 30_000, cpuPeriod: 100_000 } : {
        cpuShares: 2,
      },
    );
    const { pid } = await cri.containerStatus(id);
    const cgroupPath = procCgroup2Path(pid);
    out.push({
      name: c.name,
      id,
      busy: c.busy,
      pid,
      cgroupPath,
      cgroupId: String(cgroupInode(cgroup2Dir(cgroupPath))),
    });
  }
  return {
    name,
    namespace: spec.namespace,
    uid,
    qos,
    cgroupParent: spec.cgroupParent!,
    createdAfterStart,
    podId,
    containers: out,
  };
}

async function copyParquet(from: string, to: string): Promise<string[]> {
  await Deno.mkdir(to, { recursive: true });
  const names: string[] = [];
  for (const e of Deno.readDirSync(from)) {
    if (!e.name.endsWith(".parquet")) continue;
    await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
    names.push(e.name);
  }
  return names.sort();
}

async function collect(
  label: string,
  args: string[],
  during: (p: PodperfProcess) => Promise<void>,
): Promise<RunOutcome> {
  const out = await Deno.makeTempDir({ prefix: `podperf-${label}-` });
  const all = ["--output", out, "--node", "guest", "--no-summary", ...args];
  const p = PodperfProcess.collect(all);
  try {
    // Generous: TCG on a shared, loaded host has taken minutes to start deno and load BPF.
    await p.waitFor("collecting", 480_000);
    await during(p);
    // Stopped as an operator stops it, once the steps are done: a fixed --duration cannot
    // fit both a quiet CI machine and a loaded one under emulation.
    p.kill("SIGINT");
    const exit = await p.exited();
    return {
      args: all,
      code: exit.code,
      stdout: exit.stdout,
      stderr: exit.lines.map((l) => l.raw),
      files: await copyParquet(out, `${results}/${label}`),
    };
  } catch (e) {
    await p.dispose();
    return {
      args: all,
      code: null,
      stdout: "",
      stderr: p.lines.map((l) => l.raw),
      files: await copyParquet(out, `${results}/${label}`).catch(() => []),
      error: String(e),
    };
  }
}

/** A CPU-bound process in a fresh cgroup, entirely inside a collect window. */
async function accuracyLoad(seconds: number) {
  const rel = "/podperf-accuracy";
  const dir = cgroup2Dir(rel);
  await Deno.mkdir(dir);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `echo $$ > ${dir}/cgroup.procs && exec timeout ${seconds} sh -c 'while :; do :; done'`,
    ],
  }).spawn();
  await child.status;
  const stat = readFileSync(`${dir}/cpu.stat`, "utf8");
  const usec = Number(/^usage_usec (\d+)$/m.exec(stat)?.[1]);
  const cgroupId = String(cgroupInode(dir));
  await Deno.remove(dir);
  return { cgroupPath: rel, cgroupId, usageUsec: usec, cpuStat: stat };
}

async function main(): Promise<void> {
  const facts: GuestFacts = {
    procSelfCgroup: readFileSync("/proc/self/cgroup", "utf8"),
    pid1: readFileSync("/proc/1/comm", "utf8").trim(),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    version: readFileSync("/proc/version", "utf8").trim(),
    cgroupMountType: (await sh("stat", ["-fc", "%T", "/sys/fs/cgroup"])).out.trim(),
    btf: existsSync("/sys/kernel/btf/vmlinux"),
    cmdline: readFileSync("/proc/cmdline", "utf8").trim(),
  };
  const report: GuestReport = { facts, timings };
  const save = () =>
    Deno.writeTextFileSync(`${results}/guest.json`, JSON.stringify(report, null, 2));
  save();
  let cri: CriClient | undefined;
  try {
    // Built by the host before boot: the checkout is read-only in here.
    const tarball = await sandboxImageTarball();
    cri = await startContainerd();
    const version = await cri.version();
    facts.containerd = version;
    mark("containerd ready");
    const imp = await sh(RUNTIME_FILES.ctr, [
      "--address",
      CRI_SOCKET,
      "-n",
      "k8s.io",
      "images",
      "import",
      "--platform",
      "linux/amd64",
      tarball,
    ]);
    if (imp.code !== 0) throw new Error(`ctr images import failed: ${imp.out}`);
    while (!(await cri.hasImage(SANDBOX_IMAGE))) await sleep(100);
    mark("image imported");

    const pods: GuestPod[] = [];
    report.pods = pods;
    pods.push(
      await makePod(cri, "web", "burstable", [{ name: "spin", busy: true }], false),
    );
    pods.push(await makePod(cri, "batch", "besteffort", [{ name: "crunch", busy: true }], false));
    mark("pods before start running");
    save();

    const c = cri;
    report.nri = await collect("nri", [], async (p) => {
      await p.waitFor("NRI synchronized", 300_000);
      mark("NRI synchronized");
      pods.push(await makePod(c, "late", "burstable", [{ name: "spin", busy: true }], true));
      mark("pods after start running");
      save();
      // A second plugin on the same socket while collect is connected, as a user would run it.
      const pods_ = await sh(DENO, [
        "run",
        "-A",
        `${ROOT}main.ts`,
        "pods",
        "--json",
        "--timeout",
        "300s",
      ]);
      report.podsCommand = { code: pods_.code, output: pods_.out, stdout: pods_.stdout };
      mark("podperf pods done");
      save();
      await sleep(8000); // rows of the late pods, named from their start
    });
    mark("collect (NRI) done");
    save();

    // No NRI, and a containerd state dir with no bundles: only the cgroup path names rows.
    const emptyState = await Deno.makeTempDir({ prefix: "no-containerd-state-" });
    let accuracy: Awaited<ReturnType<typeof accuracyLoad>> | undefined;
    report.fallback = await collect("fallback", [
      "--no-nri",
      "--containerd-state",
      emptyState,
      // A completed file every few seconds logs its coverage: how we see naming has begun.
      "--rotate-age",
      "3s",
    ], async (p) => {
      // The first walk of the cgroup tree runs on podperf's busy event loop: under TCG it has
      // taken from 10 s to over a minute. Wait until a file says rows were named.
      const deadline = Date.now() + 300_000;
      while (
        !p.logged("parquet file complete").some((l) =>
          ((l.fields.coverage as { knownCpuNs?: number })?.knownCpuNs ?? 0) > 0
        )
      ) {
        if (Date.now() > deadline) throw new Error("no row named by the cgroup path in 300 s");
        await sleep(500);
      }
      mark("fallback names rows");
      // The whole life of the load lies inside the window: its cgroup's lifetime usage is
      // what the rows must sum to.
      accuracy = await accuracyLoad(4);
      await sleep(1500); // the load's last slots are closed and joined
    });
    report.accuracy = accuracy;
    mark("collect (fallback + accuracy) done");
    save();
  } catch (e) {
    report.error = (e as Error).stack ?? String(e);
    console.error(`guest: ${report.error}`);
  } finally {
    cri?.close();
    const j = await sh("journalctl", ["-u", "containerd", "--no-pager", "-o", "cat"]);
    await Deno.writeTextFile(`${results}/containerd.log`, j.out);
    // The driver the runtime really used, in its own words (the CRI config dump at start).
    const info = await sh("systemctl", ["show", "containerd", "-p", "ControlGroup"]);
    facts.containerdUnitCgroup = info.out.trim();
    mark("end");
    save();
  }
}

await main();
