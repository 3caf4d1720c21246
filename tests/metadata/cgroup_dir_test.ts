import assert from "@podperf/assert";
import {
  CgroupPathError,
  CgroupResolver,
  cgroupsPathToDirs,
  detectCgroup2Mount,
  expandSlice,
  readProcCgroup2,
} from "../../lib/metadata/cgroup_dir.ts";

const ID = "89e1c6360000000000000000000000000000000000000000000000000000" + "5cbe";

Deno.test("cgroup_dir maps cgroupfs paths to themselves", () => {
  assert.deepEqual(cgroupsPathToDirs(`/kubepods/besteffort/podaaaa-1111/${ID}`), [
    `/kubepods/besteffort/podaaaa-1111/${ID}`,
  ]);
  assert.deepEqual(cgroupsPathToDirs(`/k8s.io/${ID}`), [`/k8s.io/${ID}`]);
  assert.deepEqual(cgroupsPathToDirs("//a//b/"), ["/a/b"]);
});

Deno.test("cgroup_dir expands systemd slice:prefix:name paths as runc does", () => {
  assert.equal(expandSlice("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  assert.equal(expandSlice("-.slice"), "/");
  assert.deepEqual(cgroupsPathToDirs(`kubepods-besteffort-pod1234_ab.slice:cri-containerd:${ID}`), [
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_ab.slice/cri-containerd-${ID}.scope`,
    `/kubepods-besteffort-pod1234_ab.slice:cri-containerd:${ID}`,
  ]);
  // Guaranteed pods have no QoS level; a name ending in .slice is a slice, not a scope.
  assert.equal(
    cgroupsPathToDirs("kubepods-podx.slice:p:child.slice")[0],
    "/kubepods.slice/kubepods-podx.slice/child.slice",
  );
  assert.equal(cgroupsPathToDirs(":cri-containerd:abc")[0], "/cri-containerd-abc.scope");
});

Deno.test("cgroup_dir refuses paths of no known form", () => {
  for (const bad of ["", "relative/path", "a:b", "a-.slice:p:n", "noslice:p:n", "a:b:c:d"]) {
    assert.throws(() => cgroupsPathToDirs(bad), CgroupPathError, bad);
  }
});

Deno.test("cgroup_dir detects the cgroup2 mount this host has", () => {
  const mount = detectCgroup2Mount();
  assert.ok(mount, "this host has cgroup2 (pure or hybrid)");
  const mountinfo = Deno.readTextFileSync("/proc/self/mountinfo");
  const cgroup2Mounts = mountinfo.split("\n").filter((l) => l.includes(" - cgroup2 "))
    .map((l) => l.split(" ")[4]);
  assert.ok(cgroup2Mounts.includes(mount), `${mount} is one of ${cgroup2Mounts}`);
  const root = tryStat("/sys/fs/cgroup/cgroup.controllers") !== null;
  assert.equal(mount, root ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified");
});

function tryStat(p: string) {
  try {
    return Deno.statSync(p);
  } catch {
    return null;
  }
}

/** Makes real cgroup directories under the cgroup2 mount; returns a cleanup. */
function makeCgroups(mount: string, dirs: string[]): () => void {
  for (const d of dirs) Deno.mkdirSync(mount + d, { recursive: true });
  return () => {
    const all = new Set<string>();
    for (const d of dirs) {
      const parts = d.split("/").filter(Boolean);
      for (let i = 1; i <= parts.length; i++) all.add("/" + parts.slice(0, i).join("/"));
    }
    for (const d of [...all].sort((a, b) => b.length - a.length)) {
      try {
        Deno.removeSync(mount + d);
      } catch { /* busy or gone */ }
    }
  };
}

const mount = detectCgroup2Mount()!;
const TAG = `podperf-test-${Deno.pid}`;

Deno.test("cgroup_dir resolves a real cgroupfs directory to its inode", () => {
  const dir = `/${TAG}/kubepods/burstable/poduid-1/${ID}`;
  const cleanup = makeCgroups(mount, [dir]);
  try {
    const r = new CgroupResolver().resolve(dir);
    assert.ok(r);
    assert.equal(r.inode, BigInt(Deno.statSync(mount + dir).ino!));
    assert.equal(r.dir, dir);
    assert.equal(r.via, "path");
    assert.equal(new CgroupResolver().resolve(`/${TAG}/absent/${ID}`), null);
  } finally {
    cleanup();
  }
});

Deno.test("cgroup_dir resolves a real systemd-form directory, expanded or literal", () => {
  const expanded = `/ppt${Deno.pid}.slice/ppt${Deno.pid}-pod1.slice/cri-containerd-${ID}.scope`;
  const literal = `/ppt${Deno.pid}-pod2.slice:cri-containerd:${ID}`;
  const cleanup = makeCgroups(mount, [expanded, literal]);
  try {
    const res = new CgroupResolver();
    const a = res.resolve(`ppt${Deno.pid}-pod1.slice:cri-containerd:${ID}`)!;
    assert.equal(a.dir, expanded);
    assert.equal(a.inode, BigInt(Deno.statSync(mount + expanded).ino!));
    const b = res.resolve(`ppt${Deno.pid}-pod2.slice:cri-containerd:${ID}`)!;
    assert.equal(b.dir, literal);
    assert.notEqual(a.inode, b.inode);
  } finally {
    cleanup();
  }
});

Deno.test("cgroup_dir cross-checks and falls back to /proc/PID/cgroup", async () => {
  const dir = `/${TAG}/proc/${ID}`;
  const other = `/${TAG}/proc/other`;
  const cleanup = makeCgroups(mount, [dir, other]);
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    Deno.writeTextFileSync(`${mount}${dir}/cgroup.procs`, `${child.pid}\n`);
    assert.equal(readProcCgroup2(child.pid), dir);
    const res = new CgroupResolver();
    const same = res.resolve(dir, child.pid)!;
    assert.equal(same.via, "path");
    assert.equal(same.procMismatch, null);
    // cgroups_path names a directory that is not there: the pid says where the process is.
    const viaProc = res.resolve(`/${TAG}/missing/${ID}`, child.pid)!;
    assert.equal(viaProc.via, "proc");
    assert.equal(viaProc.dir, dir);
    assert.equal(viaProc.inode, BigInt(Deno.statSync(mount + dir).ino!));
    // Both exist but disagree: cgroups_path wins and the disagreement is reported.
    const mismatch = res.resolve(other, child.pid)!;
    assert.equal(mismatch.dir, other);
    assert.equal(mismatch.procMismatch, dir);
    assert.equal(readProcCgroup2(2 ** 22 + 12345), null);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    cleanup();
  }
  assert.equal(tryStat(mount + dir), null, "cleanup removed the test cgroups");
});

Deno.test("cgroup_dir finds nothing without a cgroup2 mount", () => {
  assert.equal(new CgroupResolver({ mount: null }).resolve(`/k8s.io/${ID}`, Deno.pid), null);
});
