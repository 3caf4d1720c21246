import assert from "@podperf/assert";
import { MetadataResolver } from "../../lib/metadata/resolver.ts";
import type { CgroupPathSource, ContainerMetaSource } from "../../lib/metadata/resolver.ts";
import { CgroupPathIndex } from "../../lib/metadata/cgroup_path.ts";
import { detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import { containerdTaskDir, OciBundleWatcher } from "../../lib/metadata/oci_watcher.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import type { PodMeta } from "../../lib/metadata/store.ts";
import { startNriPlugin } from "../../lib/nri/mod.ts";
import {
  cgroup2Dir,
  cgroupInode,
  COMMANDS,
  createPod,
  CriClient,
  startContainerd,
} from "../harness/mod.ts";
import { IDS, makeFixtureLayout } from "./fixtures/layout.ts";

const CG_ROOT = detectCgroup2Mount()!;
const PUID = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"; // the containerd fixtures' pod uid
const NEW_ID = "feed".repeat(16);

/** Counts calls to a path source. */
function countingPaths(inner: CgroupPathSource) {
  const spy = { calls: 0, pathOf: (id: bigint) => (spy.calls++, inner.pathOf(id)) };
  return spy;
}

/** Counts calls to a container source, passing subscriptions through. */
function countingOci(inner: ContainerMetaSource) {
  const spy = {
    calls: 0,
    lookup: (id: string) => (spy.calls++, inner.lookup(id)),
    subscribe: (fn: (m: PodMeta) => void) => inner.subscribe?.(fn) ?? (() => {}),
  };
  return spy;
}

const mapPaths = (m: Record<string, string>): CgroupPathSource => ({
  pathOf: (id) => m[id.toString()],
});

/** A real cgroup2 directory; returns its inode and a remover (deepest first). */
function makeCgroup(rel: string): { ino: bigint; remove: () => void } {
  Deno.mkdirSync(CG_ROOT + rel, { recursive: true });
  return {
    ino: BigInt(Deno.statSync(CG_ROOT + rel).ino!),
    remove: () => {
      const parts = rel.split("/").filter(Boolean);
      for (let i = parts.length; i > 0; i--) {
        try {
          Deno.removeSync(`${CG_ROOT}/${parts.slice(0, i).join("/")}`);
        } catch { /* still in use */ }
      }
    },
  };
}

function entry(containerId: string, cgroupId: bigint) {
  return {
    podName: "nri-pod",
    podNamespace: "nri-ns",
    podUid: "nri-uid",
    containerName: "nri-c",
    containerId,
    image: null,
    sandbox: false,
    podId: "p",
    cgroupsPath: null,
    labels: {},
    annotations: {},
    cgroupId,
  };
}

Deno.test("resolver: a cgroup NRI knows never reaches the fallbacks", () => {
  const store = new MetadataStore();
  store.upsert(entry("c".repeat(64), 4242n));
  const paths = countingPaths(
    mapPaths({ "4242": `/kubepods/pod${PUID}/${"c".repeat(64)}`, "7": "/x" }),
  );
  const oci = countingOci({ lookup: () => undefined });
  const r = new MetadataResolver({ store, oci, paths });
  for (let i = 0; i < 3; i++) {
    const m = r.resolve(4242n);
    assert.equal(m?.source, "nri");
    assert.equal(m?.podName, "nri-pod");
  }
  assert.equal(paths.calls, 0);
  assert.equal(oci.calls, 0);
  assert.equal(r.stats.store, 3);
  // The spies do count: a cgroup NRI does not know goes down the chain.
  assert.equal(r.resolve(7n), null);
  assert.equal(paths.calls, 1);
});

Deno.test("resolver: OCI bundle metadata for a real cgroup, then cached", async () => {
  const fx = makeFixtureLayout();
  const cg = makeCgroup(
    `/podperf-rtest-${Deno.pid}/kubepods/besteffort/pod${PUID}/${IDS.ctrdContainer}`,
  );
  const oci = new OciBundleWatcher({
    containerdTaskDirs: [containerdTaskDir(fx.containerdState)],
    crioContainerDirs: [],
    log: { warn: () => {}, debug: () => {} },
  });
  await oci.ready;
  const index = new CgroupPathIndex({ root: CG_ROOT });
  await index.refresh();
  const paths = countingPaths(index);
  const spyOci = countingOci(oci);
  const r = new MetadataResolver({ store: new MetadataStore(), oci: spyOci, paths });
  try {
    const m = r.resolve(cg.ino);
    assert.deepEqual(
      m && [m.source, m.podName, m.podNamespace, m.podUid, m.containerName, m.containerId, m.image],
      ["oci", "api-7d9f", "prod", PUID, "server", IDS.ctrdContainer, "registry.example/api:2.1"],
    );
    assert.equal(r.resolve(cg.ino), m, "the cached object itself");
    assert.deepEqual([paths.calls, spyOci.calls], [1, 1]);
    assert.equal(r.stats.cached, 1);
  } finally {
    r.close();
    await oci.close();
    cg.remove();
    fx.remove();
  }
});

Deno.test("resolver: path-only answer becomes OCI as soon as the bundle appears", async () => {
  const fx = makeFixtureLayout();
  const cg = makeCgroup(`/podperf-rtest-${Deno.pid}/kubepods/burstable/pod${PUID}/${NEW_ID}`);
  const oci = new OciBundleWatcher({
    containerdTaskDirs: [containerdTaskDir(fx.containerdState)],
    crioContainerDirs: [],
  });
  await oci.ready;
  const index = new CgroupPathIndex({ root: CG_ROOT });
  await index.refresh();
  const t = 0; // the clock never moves: only the bundle event may refresh the answer
  const r = new MetadataResolver({
    oci,
    paths: index,
    now: () => t,
  });
  try {
    const first = r.resolve(cg.ino);
    assert.deepEqual(first, {
      podName: null,
      podNamespace: null,
      podUid: PUID,
      containerName: null,
      containerId: NEW_ID,
      image: null,
      source: "cgroup-path",
    });
    assert.equal(r.resolve(cg.ino), first, "cached within the negative TTL");
    const seen = new Promise<void>((resolve) => {
      const stop = oci.subscribe((m) => m.containerId === NEW_ID && (stop(), resolve()));
    });
    const dir = `${containerdTaskDir(fx.containerdState)}/k8s.io/${NEW_ID}`;
    Deno.mkdirSync(dir);
    Deno.writeTextFileSync(
      `${dir}/config.json`,
      JSON.stringify({
        annotations: {
          "io.kubernetes.cri.container-type": "container",
          "io.kubernetes.cri.container-name": "late",
          "io.kubernetes.cri.sandbox-name": "p",
          "io.kubernetes.cri.sandbox-namespace": "ns",
          "io.kubernetes.cri.sandbox-uid": PUID,
        },
      }),
    );
    await seen;
    const after = r.resolve(cg.ino);
    assert.equal(after?.source, "oci");
    assert.equal(after?.containerName, "late");
  } finally {
    r.close();
    await oci.close();
    cg.remove();
    fx.remove();
  }
});

Deno.test("resolver: unknown cgroups are retried after the negative TTL, non-containers kept", () => {
  let t = 0;
  // a cgroup that is neither a container nor a host service (those are named: host_unit_test)
  const table: Record<string, string> = { "2": "/kubepods/burstable" };
  const paths = countingPaths(mapPaths(table));
  const r = new MetadataResolver({ paths, negativeTtlMs: 1000, ttlMs: 60_000, now: () => t });
  assert.equal(r.resolve(1n), null);
  assert.equal(r.resolve(2n), null);
  assert.equal(paths.calls, 2);
  t = 999;
  r.resolve(1n);
  r.resolve(2n);
  assert.equal(paths.calls, 2);
  // The unknown id is asked again once its TTL ran out; by then its cgroup has a path.
  table["1"] = `/k8s.io/${NEW_ID}`;
  t = 1000;
  assert.deepEqual(
    [r.resolve(1n)?.source, r.resolve(1n)?.containerId, r.resolve(2n)],
    ["cgroup-path", NEW_ID, null],
  );
  assert.equal(paths.calls, 3);
  t = 60_000;
  r.resolve(2n);
  assert.equal(paths.calls, 4);
});

Deno.test("resolver: the cache holds at most maxEntries cgroups", () => {
  const paths = countingPaths(mapPaths({}));
  const r = new MetadataResolver({ paths, maxEntries: 2, now: () => 0 });
  r.resolve(1n);
  r.resolve(2n);
  r.resolve(3n); // evicts 1
  assert.equal(paths.calls, 3);
  r.resolve(3n);
  r.resolve(2n);
  assert.equal(paths.calls, 3);
  r.resolve(1n);
  assert.equal(paths.calls, 4);
});

Deno.test("resolver: CRI pods with NRI off resolve by OCI annotations, old and new", async () => {
  const ctrd = await startContainerd({ nri: false });
  const cri = await CriClient.connect(ctrd.criSocket);
  let oci: OciBundleWatcher | undefined;
  let r: MetadataResolver | undefined;
  try {
    const before = await createPod(cri, {
      name: "early",
      namespace: "team-a",
      qos: "besteffort",
      containers: [{ name: "nap", command: COMMANDS.idle }],
    });
    oci = new OciBundleWatcher({ containerdTaskDirs: [containerdTaskDir(`${ctrd.dir}/state`)] });
    await oci.ready;
    const watched = new Set<string>();
    oci.subscribe((m) => watched.add(m.containerId!));
    const paths = new CgroupPathIndex();
    await paths.refresh(); // as at start-up: the early pod's cgroups are known
    r = new MetadataResolver({ oci, paths });

    const after = await createPod(cri, {
      name: "late",
      namespace: "team-b",
      qos: "burstable",
      containers: [{ name: "spin", command: COMMANDS.busy }, {
        name: "nap",
        command: COMMANDS.idle,
      }],
    });
    // The new pod's bundles arrive through the watch, not through a lookup (none made yet).
    const ids = [after.podId, ...after.containers.map((c) => c.id)];
    const deadline = Date.now() + 10_000;
    while (!ids.every((id) => watched.has(id)) && Date.now() < deadline) {
      await new Promise((s) => setTimeout(s, 20));
    }
    assert.ok(watched.has(after.podId), "sandbox bundle seen by the watch");
    for (const c of after.containers) assert.ok(watched.has(c.id), `${c.name} seen by the watch`);

    // The late pod's cgroups are newer than the start-up walk: calls answer null at once (never
    // waiting for a walk) until the next walk, due at most `minRewalkMs` later, has found them.
    const late = after.containers[0].cgroupId;
    assert.equal(r.resolve(late), null);
    const t0 = performance.now();
    while (r.resolve(late) === null && performance.now() - t0 < 10_000) {
      await new Promise((s) => setTimeout(s, 20));
    }
    assert.ok(paths.walks >= 2, "a background walk found the late pod");

    for (const pod of [before, after]) {
      for (const c of pod.containers) {
        const m = r.resolve(c.cgroupId);
        assert.deepEqual(
          m && [m.source, m.podName, m.podNamespace, m.podUid, m.containerName, m.containerId],
          ["oci", pod.spec.name, pod.spec.namespace, pod.uid, c.name, c.id],
        );
        assert.ok(m!.image, "image name from the annotations");
      }
      // The pause container's cgroup resolves to the pod's sandbox.
      const sandboxCg = cgroupInode(cgroup2Dir(`${pod.cgroupParent}/${pod.podId}`));
      const s = r.resolve(sandboxCg);
      assert.deepEqual(
        s && [s.source, s.podName, s.containerName, s.containerId],
        ["oci", pod.spec.name, "POD", pod.podId],
      );
    }
    assert.ok(r.stats.unknown >= 1);
  } finally {
    r?.close();
    await oci?.close();
    cri.close();
    await ctrd.cleanup();
  }
});

Deno.test("resolver: with NRI on, NRI answers and the OCI fallback is not consulted", async () => {
  const ctrd = await startContainerd({ nri: true });
  const cri = await CriClient.connect(ctrd.criSocket);
  const store = new MetadataStore();
  const nri = startNriPlugin({ store, socketPath: ctrd.nriSocket });
  let oci: OciBundleWatcher | undefined;
  let r: MetadataResolver | undefined;
  try {
    await nri.synchronized;
    const pod = await createPod(cri, {
      name: "both",
      namespace: "team-c",
      containers: [{ name: "spin", command: COMMANDS.busy }],
    });
    const cg = pod.containers[0].cgroupId;
    const deadline = Date.now() + 10_000;
    while (!store.lookup(cg) && Date.now() < deadline) await new Promise((s) => setTimeout(s, 20));
    oci = new OciBundleWatcher({ containerdTaskDirs: [containerdTaskDir(`${ctrd.dir}/state`)] });
    await oci.ready;
    const spyOci = countingOci(oci);
    const index = new CgroupPathIndex();
    await index.refresh();
    const paths = countingPaths(index);
    r = new MetadataResolver({ store, oci: spyOci, paths });
    const m = r.resolve(cg);
    assert.deepEqual(
      m && [m.source, m.podName, m.podNamespace, m.containerName, m.containerId],
      ["nri", "both", "team-c", "spin", pod.containers[0].id],
    );
    assert.deepEqual([spyOci.calls, paths.calls], [0, 0]);
    // The same cgroup through the fallbacks alone gives the same pod: the chains agree.
    const fb = new MetadataResolver({ oci, paths: index }).resolve(cg);
    assert.deepEqual(
      fb && [fb.source, fb.podName, fb.podNamespace, fb.containerName, fb.containerId],
      ["oci", "both", "team-c", "spin", pod.containers[0].id],
    );
  } finally {
    r?.close();
    await oci?.close();
    await nri.close();
    cri.close();
    await ctrd.cleanup();
  }
});

Deno.test("resolver: expired cache entries go as new cgroups come, not only at the bound", () => {
  let t = 0;
  const paths = countingPaths(mapPaths({}));
  const r = new MetadataResolver({ paths, now: () => t, negativeTtlMs: 1000 });
  for (let i = 0; i < 100; i++) r.resolve(BigInt(i));
  assert.equal(r.size, 100);
  t = 5000; // every entry above has expired
  for (let i = 100; i < 150; i++) r.resolve(BigInt(i));
  assert.ok(r.size <= 100, `cache holds ${r.size}, the old entries drain away`);
  for (let i = 150; i < 200; i++) r.resolve(BigInt(i));
  assert.equal(r.size, 100, "only the 100 live ones");
});
