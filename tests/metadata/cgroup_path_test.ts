import assert from "@podperf/assert";
import { CgroupPathIndex, parseCgroupPath } from "../../lib/metadata/cgroup_path.ts";
import { detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import type { ParsedCgroupPath } from "../../lib/metadata/cgroup_path.ts";

const ID = "4f1e0a9b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdde";
const UID = "1d2c3b4a-5e6f-7081-92a3-b4c5d6e7f809";
const UID_ = UID.replaceAll("-", "_");

function p(
  podUid: string | null,
  qosClass: ParsedCgroupPath["qosClass"],
  runtime: ParsedCgroupPath["runtime"],
  driver: ParsedCgroupPath["driver"],
  extra: Partial<ParsedCgroupPath> = {},
): ParsedCgroupPath {
  return { podUid, qosClass, containerId: ID, runtime, driver, conmon: false, ...extra };
}

const CASES: [string, string, ParsedCgroupPath | null][] = [
  // cgroupfs driver (containerd, Docker/dockershim, k3s): bare id under the pod directory.
  [
    "cgroupfs burstable",
    `/kubepods/burstable/pod${UID}/${ID}`,
    p(UID, "burstable", null, "cgroupfs"),
  ],
  [
    "cgroupfs besteffort",
    `/kubepods/besteffort/pod${UID}/${ID}`,
    p(UID, "besteffort", null, "cgroupfs"),
  ],
  ["cgroupfs guaranteed", `/kubepods/pod${UID}/${ID}`, p(UID, "guaranteed", null, "cgroupfs")],
  [
    "cgroupfs test uid",
    `/kubepods/besteffort/podaaaa-1111/${ID}`,
    p("aaaa-1111", "besteffort", null, "cgroupfs"),
  ],
  [
    "cgroupfs static pod uid",
    `/kubepods/burstable/pod0123456789abcdef0123456789abcdef/${ID}`,
    p("0123456789abcdef0123456789abcdef", "burstable", null, "cgroupfs"),
  ],
  [
    "cgroupfs under custom root (kind)",
    `/kubelet/kubepods/burstable/pod${UID}/${ID}`,
    p(UID, "burstable", null, "cgroupfs"),
  ],
  [
    "cgroupfs sub-cgroup of a container",
    `/kubepods/burstable/pod${UID}/${ID}/init`,
    p(UID, "burstable", null, "cgroupfs"),
  ],
  [
    "CRI-O cgroupfs",
    `/kubepods/burstable/pod${UID}/crio-${ID}`,
    p(UID, "burstable", "cri-o", "cgroupfs"),
  ],
  [
    "CRI-O cgroupfs conmon",
    `/kubepods/burstable/pod${UID}/crio-conmon-${ID}`,
    p(UID, "burstable", "cri-o", "cgroupfs", { conmon: true }),
  ],
  [
    "pod cgroup itself",
    `/kubepods/burstable/pod${UID}`,
    p(UID, "burstable", null, "cgroupfs", { containerId: null }),
  ],
  // systemd driver.
  [
    "systemd containerd burstable",
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    p(UID, "burstable", "containerd", "systemd"),
  ],
  [
    "systemd containerd besteffort",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    p(UID, "besteffort", "containerd", "systemd"),
  ],
  [
    "systemd containerd guaranteed",
    `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    p(UID, "guaranteed", "containerd", "systemd"),
  ],
  [
    "systemd CRI-O",
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`,
    p(UID, "burstable", "cri-o", "systemd"),
  ],
  [
    "systemd CRI-O conmon",
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`,
    p(UID, "burstable", "cri-o", "systemd", { conmon: true }),
  ],
  [
    "systemd Docker",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${ID}.scope`,
    p(UID, "besteffort", "docker", "systemd"),
  ],
  [
    "systemd under kind's kubelet root",
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    p(UID, "burstable", "containerd", "systemd"),
  ],
  [
    "systemd nested in a node container",
    `/system.slice/docker-${
      "b".repeat(64)
    }.scope/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    p(UID, "guaranteed", "containerd", "systemd"),
  ],
  [
    "systemd pod slice itself",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice`,
    p(UID, "besteffort", null, "systemd", { containerId: null }),
  ],
  // Containers without a pod parent.
  [
    "containerd without parent (k3s/CRI default)",
    `/k8s.io/${ID}`,
    p(null, null, "containerd", "cgroupfs"),
  ],
  ["Docker cgroupfs", `/docker/${ID}`, p(null, null, "docker", "cgroupfs")],
  ["Docker systemd", `/system.slice/docker-${ID}.scope`, p(null, null, "docker", "systemd")],
  [
    "systemd-form path taken literally by cgroupfs runc",
    `/kubepods-besteffort-podhhhh_8888.slice:cri-containerd:${ID}`,
    p("hhhh-8888", "besteffort", "containerd", "cgroupfs"),
  ],
  // Malformed or not a container.
  ["empty", "", null],
  ["root", "/", null],
  ["system service", "/system.slice/containerd.service", null],
  ["kubepods root", "/kubepods", null],
  ["QoS level", "/kubepods/burstable", null],
  ["short id", `/kubepods/burstable/pod${UID}/${ID.slice(0, 12)}`, null],
  ["uppercase id", `/kubepods/burstable/pod${UID}/${ID.toUpperCase()}`, null],
  ["unknown scope prefix", `/kubepods.slice/kubepods-pod${UID_}.slice/libpod-${ID}.scope`, null],
  ["cri-containerd without .scope", `/kubepods/pod${UID}/cri-containerd-${ID}`, null],
  [
    "pod slice under the wrong parent",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    null,
  ],
  [
    "pod slice with no parent",
    `/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    null,
  ],
  ["pod directory outside kubepods", `/foo/pod${UID}/${ID}`, null],
  ["bare id at top level", `/${ID}`, null],
  ["bare id under another namespace dir", `/moby/${ID}`, null],
  ["unknown QoS name", `/kubepods/gold/pod${UID}/${ID}`, null],
];

for (const [name, path, want] of CASES) {
  Deno.test(`parseCgroupPath: ${name}`, () => {
    assert.deepEqual(parseCgroupPath(path), want, path);
  });
}

Deno.test("CgroupPathIndex walks this host's cgroup2 mount by default", async () => {
  const idx = new CgroupPathIndex();
  assert.equal(idx.root, detectCgroup2Mount());
  assert.ok(await idx.refresh() >= 1);
  assert.equal(idx.pathOf(BigInt(Deno.statSync(idx.root).ino!)), "/");
});

/** A real cgroup under this host's cgroup2 mount, removed by the returned function. */
function makeCgroup(root: string, rel: string): { ino: bigint; remove: () => void } {
  Deno.mkdirSync(root + rel, { recursive: true });
  return {
    ino: BigInt(Deno.statSync(root + rel).ino!),
    remove: () => {
      // cgroupfs removes only empty leaves, deepest first.
      const parts = rel.split("/").filter(Boolean);
      for (let i = parts.length; i > 0; i--) {
        try {
          Deno.removeSync(root + "/" + parts.slice(0, i).join("/"));
        } catch { /* shared parent still in use */ }
      }
    },
  };
}

Deno.test("CgroupPathIndex maps a real cgroup inode to its path and the root to /", async () => {
  const root = detectCgroup2Mount()!;
  const rel = `/podperf-test-${Deno.pid}/kubepods/burstable/pod${UID}/${ID}`;
  const cg = makeCgroup(root, rel);
  try {
    const idx = new CgroupPathIndex({ root });
    await idx.refresh();
    assert.equal(idx.pathOf(cg.ino), rel);
    assert.equal(idx.pathOf(BigInt(Deno.statSync(root).ino!)), "/");
    assert.equal(parseCgroupPath(idx.pathOf(cg.ino)!)?.containerId, ID);
  } finally {
    cg.remove();
  }
});

Deno.test("CgroupPathIndex walks in the background for an unknown id, once per interval", async () => {
  const root = detectCgroup2Mount()!;
  let t = 0;
  const idx = new CgroupPathIndex({ root, minRewalkMs: 1000, now: () => t });
  let walked = 0;
  idx.subscribe(() => walked++);
  const cg = makeCgroup(root, `/podperf-test-${Deno.pid}-late`);
  try {
    // The lookup does not wait for the walk it starts; asking again during it starts no other.
    assert.equal(idx.pathOf(cg.ino), undefined);
    assert.equal(idx.pathOf(1n << 60n), undefined);
    assert.equal(idx.walks, 1);
    await idx.pending;
    assert.equal(walked, 1);
    assert.equal(idx.pathOf(cg.ino), `/podperf-test-${Deno.pid}-late`);
    // Unknown ids inside the interval start no walk; known ids never do.
    t = 999;
    assert.equal(idx.pathOf(1n << 60n), undefined);
    assert.equal(idx.pending, null);
    assert.equal(idx.walks, 1);
    t = 1000;
    assert.equal(idx.pathOf(1n << 60n), undefined);
    assert.equal(idx.walks, 2);
    await idx.pending;
    t = 5000;
    assert.equal(idx.pathOf(cg.ino), `/podperf-test-${Deno.pid}-late`);
    assert.equal(idx.walks, 2);
  } finally {
    cg.remove();
  }
  // A removed cgroup drops out on the next walk.
  await idx.refresh();
  assert.equal(idx.pathOf(cg.ino), undefined);
  await idx.pending;
});

Deno.test("CgroupPathIndex stops a walk at its bound", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (let i = 0; i < 10; i++) Deno.mkdirSync(`${dir}/c${i}`);
    const idx = new CgroupPathIndex({ root: dir, maxEntries: 4 });
    assert.equal(await idx.refresh(), 4);
    const all = new CgroupPathIndex({ root: dir });
    assert.equal(await all.refresh(), 11);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
