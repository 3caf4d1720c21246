/**
 * The plugin against a real containerd 1.7.24 (tests/harness): pre-existing pods, new pods,
 * cleanup after the grace period, churn, and a containerd restart.
 */
import assert from "@podperf/assert";
import {
  cgroup2Dir,
  cgroupInode,
  COMMANDS,
  type CreatedPod,
  createPod,
  CriClient,
  procCgroup2Path,
  startContainerd,
} from "../harness/mod.ts";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { recorder, until } from "./log_recorder.ts";

const GRACE_MS = 300;

function startPlugin(nriSocket: string, store: MetadataStore) {
  const { log, lines } = recorder();
  const nri = startNriPlugin({
    socketPath: nriSocket,
    store,
    log,
    minBackoffMs: 50,
    maxBackoffMs: 500,
    sweepIntervalMs: 50,
  });
  return { nri, lines };
}

function assertPodResolves(store: MetadataStore, pod: CreatedPod): void {
  for (const c of pod.containers) {
    const m = store.lookup(c.cgroupId);
    assert.ok(m, `${pod.spec.name}/${c.name} (cgroup ${c.cgroupId}) resolves`);
    assert.equal(m.podName, pod.spec.name);
    assert.equal(m.podNamespace, pod.spec.namespace);
    assert.equal(m.podUid, pod.uid);
    assert.equal(m.containerName, c.name);
    assert.equal(m.containerId, c.id);
    assert.equal(m.source, "nri");
  }
  // The sandbox (pause) container sits in <parent>/<pod id>.
  const sandbox = store.getByContainerId(pod.podId);
  assert.ok(sandbox?.sandbox, `${pod.spec.name} sandbox entry`);
  assert.equal(sandbox.cgroupId, cgroupInode(cgroup2Dir(`${pod.cgroupParent}/${pod.podId}`)));
}

async function removePod(cri: CriClient, pod: CreatedPod): Promise<void> {
  for (const c of pod.containers) {
    await cri.stopContainer(c.id);
    await cri.removeContainer(c.id);
  }
  await cri.stopPodSandbox(pod.podId);
  await cri.removePodSandbox(pod.podId);
}

Deno.test("containerd: pre-existing and new pods resolve, cleanup and churn return to baseline", async () => {
  const ctrd = await startContainerd({ nri: true });
  const cri = await CriClient.connect(ctrd.criSocket);
  const store = new MetadataStore({ gracePeriodMs: GRACE_MS });
  let plugin: ReturnType<typeof startPlugin> | undefined;
  try {
    // Pre-existing: three pods, one with two containers, before the plugin starts.
    const before: CreatedPod[] = [];
    for (let i = 0; i < 3; i++) {
      before.push(
        await createPod(cri, {
          name: `pre-${i}`,
          namespace: `ns-${i}`,
          containers: i === 1
            ? [{ name: "app", command: COMMANDS.idle }, { name: "sidecar", command: COMMANDS.idle }]
            : [{ name: "app", command: COMMANDS.idle }],
        }),
      );
    }
    plugin = startPlugin(ctrd.nriSocket, store);
    await plugin.nri.synchronized;
    assert.equal(store.size, 3 + 4, "3 sandboxes + 4 containers");
    // The normal path meets every start-up deadline.
    assert.equal(plugin.nri.stats.state, "synced");
    assert.equal(plugin.nri.stats.deadlineMisses, 0);
    assert.equal(plugin.nri.stats.reconnects, 0);
    for (const p of before) assertPodResolves(store, p);

    // New pods: each resolvable within 100 ms of its StartContainer returning.
    const after: CreatedPod[] = [];
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const uid = crypto.randomUUID();
      const spec = {
        name: `new-${i}`,
        namespace: "fresh",
        uid,
        cgroupParent: `/kubepods/burstable/pod${uid}`,
      };
      const podId = await cri.runPodSandbox(spec);
      const id = await cri.createContainer(podId, spec, {
        name: "app",
        command: [...COMMANDS.idle],
      });
      await cri.startContainer(id);
      const t0 = performance.now();
      const ok = await until(() => {
        const e = store.getByContainerId(id);
        return e !== undefined && e.cgroupId !== null && store.lookup(e.cgroupId) === e;
      }, 2000);
      const ms = performance.now() - t0;
      assert.ok(ok, `new-${i} resolvable`);
      latencies.push(ms);
      const { pid } = await cri.containerStatus(id);
      const cgroupPath = procCgroup2Path(pid);
      const cgroupId = cgroupInode(cgroup2Dir(cgroupPath));
      const pod: CreatedPod = {
        podId,
        uid,
        spec,
        cgroupParent: spec.cgroupParent,
        containers: [{
          name: "app",
          id,
          pid,
          cgroupPath,
          cgroupDir: cgroup2Dir(cgroupPath),
          cgroupId,
        }],
      };
      assertPodResolves(store, pod);
      after.push(pod);
    }
    console.log(
      `StartContainer return → resolvable: ${latencies.map((l) => l.toFixed(2)).join(", ")} ms`,
    );
    // The spec's bound is 100 ms; START_CONTAINER arrives before StartContainer returns.
    assert.ok(Math.max(...latencies) < 100, `max ${Math.max(...latencies)} ms`);

    // Cleanup: remove everything; after the grace the store holds none of it.
    const all = [...before, ...after];
    for (const p of all) await removePod(cri, p);
    const gone = () =>
      all.every((p) =>
        store.getByContainerId(p.podId) === undefined &&
        p.containers.every((c) => store.lookup(c.cgroupId) === undefined)
      );
    assert.ok(await until(gone, GRACE_MS + 2000), "all removed after the grace");
    // ...and the sweep has dropped them.
    await until(() => store.size === 0, 1000);
    assert.deepEqual(store.entries().map((e) => `${e.podName}/${e.containerName}`), []);
    assert.equal(store.size, 0);

    // Churn: 200 pods created and removed; the size returns to the baseline.
    const keeper = await createPod(cri, {
      name: "keeper",
      containers: [{ name: "app", command: COMMANDS.idle }],
    });
    assert.ok(await until(() => store.size === 2));
    const baseline = store.size;
    let peak = 0;
    const t0 = performance.now();
    const worker = async (w: number) => {
      for (let i = w; i < 200; i += 8) {
        const p = await createPod(cri, {
          name: `churn-${i}`,
          containers: [{ name: "app", command: COMMANDS.idle }],
        });
        assertPodResolves(store, p);
        peak = Math.max(peak, store.size);
        await removePod(cri, p);
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(worker));
    assert.ok(await until(() => store.size === baseline, GRACE_MS + 2000));
    console.log(
      `churn of 200 pods in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `store peak ${peak}, back to ${store.size} (baseline ${baseline})`,
    );
    assertPodResolves(store, keeper);
    assert.equal(plugin.nri.stats.sessions, 1, "no reconnects");
    assert.equal(plugin.lines.filter((l) => l.level === "error").length, 0);
  } finally {
    await plugin?.nri.close();
    cri.close();
    await ctrd.cleanup();
  }
});

Deno.test("containerd: after a containerd restart the plugin reconnects and the store is right", async () => {
  const ctrd = await startContainerd({ nri: true });
  let cri = await CriClient.connect(ctrd.criSocket);
  const store = new MetadataStore({ gracePeriodMs: GRACE_MS });
  let plugin: ReturnType<typeof startPlugin> | undefined;
  try {
    const a = await createPod(cri, {
      name: "survivor",
      namespace: "restart",
      containers: [{ name: "app", command: COMMANDS.idle }, {
        name: "doomed",
        command: COMMANDS.idle,
      }],
    });
    plugin = startPlugin(ctrd.nriSocket, store);
    await plugin.nri.synchronized;
    assertPodResolves(store, a);
    const kept = store.getByContainerId(a.containers[0].id);

    await ctrd.kill();
    // While containerd is down one container dies; the next Synchronize will not list it.
    Deno.kill(a.containers[1].pid, "SIGKILL");
    assert.ok(await until(() => !plugin!.nri.connected, 2000), "plugin sees the close");
    assertPodResolves(store, a); // still resolvable while the runtime is away
    const resynced = plugin.nri.nextSync();
    await ctrd.restart();
    cri.close();
    cri = await CriClient.connect(ctrd.criSocket);
    await resynced;
    assert.equal(plugin.nri.connected, true);
    assert.ok(plugin.nri.stats.sessions >= 2);
    assert.equal(store.getByContainerId(a.containers[0].id), kept, "same entry kept");
    assert.equal(store.lookup(a.containers[0].cgroupId)?.containerName, "app");
    assert.ok(
      await until(() => store.getByContainerId(a.containers[1].id) === undefined, GRACE_MS + 2000),
      "the container that died while containerd was down goes after the grace",
    );
    // New pods after the restart resolve as before.
    const b = await createPod(cri, {
      name: "after-restart",
      containers: [{ name: "app", command: COMMANDS.idle }],
    });
    assert.ok(await until(() => store.lookup(b.containers[0].cgroupId) !== undefined, 1000));
    assertPodResolves(store, b);
  } finally {
    await plugin?.nri.close();
    cri.close();
    await ctrd.cleanup();
  }
});
