import assert from "@podperf/assert";
import { existsSync, readFileSync } from "node:fs";
import {
  cgroup2Root,
  cgroupDirsOf,
  COMMANDS,
  createPod,
  CriClient,
  DEFAULT_CGROUP_PARENT,
  procCgroup2Path,
  processAlive,
  SANDBOX_IMAGE,
  startContainerd,
} from "./mod.ts";
import { buildSandboxImage } from "./sandbox_image.ts";

/** utime+stime clock ticks of a process (grows only while it runs on a CPU). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("a busy pod runs in its kubepods cgroup and cleanup leaves nothing behind", async () => {
  const t0 = performance.now();
  const ctrd = await startContainerd({ nri: true });
  const startMs = performance.now() - t0;
  const pid0 = ctrd.pid;
  let cri: CriClient | undefined;
  let podPid = 0;
  let cgroupPath = "";
  try {
    assert.ok(pid0 !== null && processAlive(pid0), "containerd runs");
    assert.ok(Deno.statSync(ctrd.nriSocket).isSocket, "NRI socket appears when nri is on");
    cri = await CriClient.connect(ctrd.criSocket);
    const v = await cri.version();
    assert.equal(v.runtimeName, "containerd");
    assert.equal(v.apiVersion, "v1");
    assert.ok(await cri.hasImage(SANDBOX_IMAGE));

    const t1 = performance.now();
    const pod = await createPod(cri, {
      name: "spin",
      namespace: "harness",
      qos: "burstable",
      containers: [{ name: "busy", command: COMMANDS.busy }],
    });
    const podMs = performance.now() - t1;
    console.log(
      `containerd ready+image in ${startMs.toFixed(0)} ms; pod run+create+start ` +
        `${podMs.toFixed(0)} ms`,
    );
    // The brief asks for ~1 s; 5 s leaves room for a loaded CI machine.
    assert.ok(podMs < 5000, `pod create+start took ${podMs} ms`);

    const [c] = pod.containers;
    podPid = c.pid;
    cgroupPath = pod.cgroupParent;
    assert.equal(pod.cgroupParent, `/kubepods/burstable/pod${pod.uid}`);
    assert.equal(c.cgroupPath, `/kubepods/burstable/pod${pod.uid}/${c.id}`);
    const line = readFileSync(`/proc/${c.pid}/cgroup`, "utf8").split("\n")
      .find((l) => l.startsWith("0::"));
    assert.equal(line, `0::/kubepods/burstable/pod${pod.uid}/${c.id}`);
    assert.equal(c.cgroupDir, `${cgroup2Root()}${c.cgroupPath}`);
    assert.ok(Deno.statSync(c.cgroupDir).isDirectory);
    assert.equal(c.cgroupId, BigInt(Deno.statSync(c.cgroupDir).ino!));
    assert.ok(
      readFileSync(`${c.cgroupDir}/cgroup.procs`, "utf8").split("\n").includes(String(c.pid)),
    );
    // The container exists in every v1 hierarchy too (same relative path).
    assert.ok(cgroupDirsOf(c.cgroupPath).length >= 2);

    const st = await cri.containerStatus(c.id);
    assert.equal(st.state, "CONTAINER_RUNNING");
    assert.equal(st.pid, c.pid);
    assert.equal(st.name, "busy");
    const ticks = cpuTicks(c.pid);
    await waitFor("the busy loop to use CPU", () => cpuTicks(c.pid) > ticks + 5);

    const listed = await cri.listContainers();
    assert.deepEqual(listed.map((x) => [x.id, x.podSandboxId, x.state]), [
      [c.id, pod.podId, "CONTAINER_RUNNING"],
    ]);
    assert.equal(ctrd.shimPids().length, 1);

    await cri.stopContainer(c.id);
    assert.equal((await cri.containerStatus(c.id)).state, "CONTAINER_EXITED");
    assert.ok(!processAlive(c.pid), "the container's process is gone after stop");
    await cri.removeContainer(c.id);
    assert.deepEqual(await cri.listContainers(), []);
    assert.ok(!existsSync(c.cgroupDir), "runc removed the container cgroup");
    await cri.stopPodSandbox(pod.podId);
    await cri.removePodSandbox(pod.podId);
    assert.deepEqual(await cri.listPodSandboxes(), []);
  } finally {
    cri?.close();
    await ctrd.cleanup();
  }
  assert.ok(!processAlive(pid0!), "containerd is gone");
  assert.deepEqual(ctrd.shimPids(), []);
  assert.ok(!processAlive(podPid));
  assert.deepEqual(cgroupDirsOf(cgroupPath), []);
  assert.ok(!existsSync(ctrd.dir), "temp dir removed");
  await ctrd.cleanup(); // idempotent
});

Deno.test("cleanup removes running pods, shims and cgroups without prior CRI teardown", async () => {
  const ctrd = await startContainerd({ nri: false });
  let pod;
  let shims: number[] = [];
  const cri = await CriClient.connect(ctrd.criSocket);
  try {
    assert.ok(!existsSync(ctrd.nriSocket), "no NRI socket when nri is off");
    pod = await createPod(cri, {
      name: "two",
      qos: "besteffort",
      containers: [
        { name: "busy", command: COMMANDS.busy },
        { name: "idle", command: COMMANDS.idle },
      ],
    });
    assert.equal(pod.containers.length, 2);
    assert.notEqual(pod.containers[0].cgroupId, pod.containers[1].cgroupId);
    assert.ok(pod.containers[1].cgroupPath.startsWith(`/kubepods/besteffort/pod${pod.uid}/`));
    shims = ctrd.shimPids();
    assert.equal(shims.length, 1, "one shim per pod");
  } finally {
    cri.close();
    await ctrd.cleanup();
  }
  for (const c of pod.containers) assert.ok(!processAlive(c.pid), `${c.name} killed`);
  for (const s of shims) assert.ok(!processAlive(s), "shim killed");
  assert.deepEqual(cgroupDirsOf(pod.cgroupParent), []);
  assert.ok(!existsSync(ctrd.dir));
});

Deno.test("after kill() pods keep running and restart() finds them again", async () => {
  const ctrd = await startContainerd({ nri: true });
  let cri = await CriClient.connect(ctrd.criSocket);
  let pod;
  try {
    pod = await createPod(cri, {
      name: "survivor",
      qos: "guaranteed",
      containers: [{ name: "idle", command: COMMANDS.idle }],
    });
    assert.equal(pod.cgroupParent, `/kubepods/pod${pod.uid}`);
    const [c] = pod.containers;
    const shims = ctrd.shimPids();
    cri.close();

    const old = ctrd.pid!;
    await ctrd.kill();
    assert.equal(ctrd.pid, null);
    assert.ok(!processAlive(old), "containerd is dead");
    assert.ok(processAlive(c.pid), "the container survives a containerd crash");
    assert.deepEqual(ctrd.shimPids(), shims, "the shim survives too");

    await ctrd.restart();
    assert.ok(Deno.statSync(ctrd.nriSocket).isSocket, "NRI socket back after restart");
    cri = await CriClient.connect(ctrd.criSocket);
    const st = await cri.containerStatus(c.id);
    assert.equal(st.state, "CONTAINER_RUNNING");
    assert.equal(st.pid, c.pid);
    assert.ok((await ctrd.ctr("-n", "k8s.io", "tasks", "ls")).includes(c.id));
  } finally {
    cri.close();
    await ctrd.cleanup();
  }
  assert.ok(!processAlive(pod.containers[0].pid));
  assert.deepEqual(cgroupDirsOf(pod.cgroupParent), []);
});

Deno.test("stop() takes containerd, shims and containers down; restart() comes back", async () => {
  const ctrd = await startContainerd({ nri: false });
  let cri = await CriClient.connect(ctrd.criSocket);
  try {
    const pod = await createPod(cri, {
      name: "stopped",
      containers: [{ name: "busy", command: COMMANDS.busy }],
    });
    cri.close();
    await ctrd.stop();
    assert.equal(ctrd.pid, null);
    assert.deepEqual(ctrd.shimPids(), []);
    assert.ok(!processAlive(pod.containers[0].pid));
    assert.ok(!existsSync(pod.containers[0].cgroupDir), "runc delete removed the cgroup");
    await ctrd.restart();
    cri = await CriClient.connect(ctrd.criSocket);
    const [p] = await cri.listPodSandboxes();
    assert.equal(p.id, pod.podId);
    assert.equal(p.state, "SANDBOX_NOTREADY");
  } finally {
    cri.close();
    await ctrd.cleanup();
  }
  assert.ok(!existsSync(ctrd.dir));
});

Deno.test("a pod without cgroup parent lands in /k8s.io/<id>; resource updates reach cgroupfs", async () => {
  const ctrd = await startContainerd({ nri: false });
  const cri = await CriClient.connect(ctrd.criSocket);
  let id = "";
  try {
    const spec = { name: "plain", namespace: "harness", uid: crypto.randomUUID() };
    const podId = await cri.runPodSandbox(spec);
    id = await cri.createContainer(podId, spec, { name: "idle", command: [...COMMANDS.idle] });
    assert.equal((await cri.containerStatus(id)).state, "CONTAINER_CREATED");
    assert.equal((await cri.containerStatus(id)).pid, 0);
    await cri.startContainer(id);
    const { pid } = await cri.containerStatus(id);
    assert.equal(procCgroup2Path(pid), `${DEFAULT_CGROUP_PARENT}/${id}`);
    await cri.updateContainerResources(id, { cpuShares: 512 });
    const shares = cgroupDirsOf(`${DEFAULT_CGROUP_PARENT}/${id}`)
      .find((d) => d.startsWith("/sys/fs/cgroup/cpu/"));
    assert.ok(shares, "the container has a v1 cpu cgroup");
    assert.equal(readFileSync(`${shares}/cpu.shares`, "utf8").trim(), "512");
  } finally {
    cri.close();
    await ctrd.cleanup();
  }
  assert.deepEqual(cgroupDirsOf(`${DEFAULT_CGROUP_PARENT}/${id}`), []);
});

Deno.test("the sandbox image tarball is deterministic and its blobs match their digests", async () => {
  const a = await buildSandboxImage();
  const b = await buildSandboxImage();
  assert.deepEqual(a, b);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/img.tar`, a);
    const x = await new Deno.Command("tar", { args: ["-xf", `${dir}/img.tar`, "-C", dir] })
      .output();
    assert.ok(x.success, "GNU tar reads the archive");
    const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    assert.equal(index.manifests[0].annotations["io.containerd.image.name"], SANDBOX_IMAGE);
    for (const e of Deno.readDirSync(`${dir}/blobs/sha256`)) {
      const data = await Deno.readFile(`${dir}/blobs/sha256/${e.name}`);
      const hex = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
        .map((v) => v.toString(16).padStart(2, "0")).join("");
      assert.equal(hex, e.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
