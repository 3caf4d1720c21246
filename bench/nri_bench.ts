/**
 * NRI benchmark: a 500-container Synchronize replayed by a test runtime (messages shaped like
 * containerd 1.7.24's), timed from Configure to a complete store; store memory per entry; and,
 * when the containerd harness can run, StartContainer-return → resolvable latency.
 */
import { startNriPlugin } from "../lib/nri/client.ts";
import { nriTypes } from "../lib/nri/proto.ts";
import { MetadataStore } from "../lib/metadata/store.ts";
import { CgroupResolver, detectCgroup2Mount } from "../lib/metadata/cgroup_dir.ts";
import { FakeRuntime } from "../tests/nri/fake_runtime.ts";
import { recorder, until } from "../tests/nri/log_recorder.ts";

const hexId = (n: number, tag: string) => (tag + n.toString(16)).padStart(64, "0");

/** A pod and its containers with the fields and annotations containerd 1.7 fills (§10). */
function shapes(pods: number, perPod: number, base: string) {
  const podMsgs = [], ctrMsgs = [];
  for (let p = 0; p < pods; p++) {
    const id = hexId(p, "a"), uid = crypto.randomUUID(), parent = `${base}/pod${uid}`;
    const podAnn = {
      "io.kubernetes.cri.container-type": "sandbox",
      "io.kubernetes.cri.sandbox-id": id,
      "io.kubernetes.cri.sandbox-name": `web-${p}`,
      "io.kubernetes.cri.sandbox-namespace": "shop",
      "io.kubernetes.cri.sandbox-uid": uid,
      "io.kubernetes.cri.sandbox-log-directory": `/var/log/pods/shop_web-${p}_${uid}`,
    };
    podMsgs.push({
      id,
      name: `web-${p}`,
      uid,
      namespace: "shop",
      labels: { app: "web", "io.cri-containerd.kind": "sandbox" },
      annotations: podAnn,
      linux: { cgroupParent: parent, cgroupsPath: `${parent}/${id}` },
      pid: 1000 + p,
    });
    for (let c = 0; c < perPod; c++) {
      const cid = hexId(p * perPod + c, "c");
      ctrMsgs.push({
        id: cid,
        podSandboxId: id,
        name: `app-${c}`,
        state: 3,
        labels: { "io.cri-containerd.kind": "container" },
        annotations: {
          "io.kubernetes.cri.container-name": `app-${c}`,
          "io.kubernetes.cri.container-type": "container",
          "io.kubernetes.cri.image-name": "docker.io/library/busybox:1.35",
          "io.kubernetes.cri.sandbox-id": id,
          "io.kubernetes.cri.sandbox-name": `web-${p}`,
          "io.kubernetes.cri.sandbox-namespace": "shop",
          "io.kubernetes.cri.sandbox-uid": uid,
        },
        linux: { cgroupsPath: `${parent}/${cid}` },
        pid: 0, // no process: resolution goes by path only
      });
    }
  }
  return { podMsgs, ctrMsgs };
}

async function benchSync(containers: number): Promise<Record<string, unknown>> {
  const mount = detectCgroup2Mount();
  const base = `/podperf-bench-${Deno.pid}`;
  const pods = containers / 2;
  const { podMsgs, ctrMsgs } = shapes(pods, 2, base);
  const dirs = [
    ...podMsgs.map((p) => p.linux.cgroupsPath),
    ...ctrMsgs.map((c) => c.linux.cgroupsPath),
  ];
  if (mount) { for (const d of dirs) Deno.mkdirSync(mount + d, { recursive: true }); }
  // Pods with a pid get a sandbox entry; give containers a pid too so the store sees them live.
  const req = nriTypes.SynchronizeRequest.encode({ pods: podMsgs, containers: ctrMsgs }).finish();
  const rt = FakeRuntime.start();
  const store = new MetadataStore();
  const { log } = recorder();
  const nri = startNriPlugin({
    socketPath: rt.path,
    store,
    log,
    resolver: new CgroupResolver({ mount }),
  });
  try {
    const peer = await rt.accept();
    await peer.nextRequest();
    const t0 = performance.now();
    await peer.call("Configure", nriTypes.ConfigureRequest.encode({}).finish());
    const tSyncSent = performance.now();
    const reply = peer.call("Synchronize", req);
    await reply;
    const tReply = performance.now();
    const total = pods + containers;
    await until(() => store.size === total && store.unresolved().length === 0, 10_000);
    const tDone = performance.now();
    return {
      bench: "nri",
      case: `Synchronize ${containers} containers + ${pods} pods (${
        (req.length / 1024).toFixed(0)
      } KiB)`,
      configureToStoreMs: +(tDone - t0).toFixed(2),
      syncReplyMs: +(tReply - tSyncSent).toFixed(2),
      entries: store.size,
      resolved: total - store.unresolved().length,
    };
  } finally {
    await nri.close();
    await rt.close();
    if (mount) {
      for (const d of dirs.sort((a, b) => b.length - a.length)) Deno.removeSync(mount + d);
      for (const p of podMsgs) Deno.removeSync(mount + p.linux.cgroupParent);
      Deno.removeSync(mount + base);
    }
  }
}

function benchMemory(n: number): Record<string, unknown> {
  const { podMsgs, ctrMsgs } = shapes(n / 2, 2, "/kubepods/burstable");
  const podById = new Map(podMsgs.map((p) => [p.id, p]));
  const store = new MetadataStore({ maxEntries: n * 2 });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  let i = 0;
  for (const c of ctrMsgs) {
    const p = podById.get(c.podSandboxId)!;
    store.upsert({
      containerId: c.id,
      containerName: c.name,
      sandbox: false,
      podId: p.id,
      podName: p.name,
      podNamespace: p.namespace,
      podUid: p.uid,
      image: c.annotations["io.kubernetes.cri.image-name"],
      cgroupsPath: c.linux.cgroupsPath,
      labels: {},
      annotations: {},
      cgroupId: BigInt(100000 + i++),
    });
  }
  gc?.();
  const after = Deno.memoryUsage().heapUsed;
  return {
    bench: "nri",
    case: `store memory, ${n} entries${gc ? "" : " (no gc(): approximate)"}`,
    bytesPerEntry: Math.round((after - before) / n),
    entries: store.size,
  };
}

async function benchRealContainerd(pods: number): Promise<Record<string, unknown>> {
  let harness;
  try {
    harness = await import("../tests/harness/mod.ts");
  } catch (e) {
    return { bench: "nri", case: "containerd StartContainer → resolvable", skipped: String(e) };
  }
  let ctrd;
  try {
    ctrd = await harness.startContainerd({ nri: true });
  } catch (e) {
    return { bench: "nri", case: "containerd StartContainer → resolvable", skipped: String(e) };
  }
  const cri = await harness.CriClient.connect(ctrd.criSocket);
  const store = new MetadataStore({ gracePeriodMs: 100 });
  const { log } = recorder();
  const nri = startNriPlugin({ socketPath: ctrd.nriSocket, store, log });
  const lat: number[] = [];
  try {
    await nri.synchronized;
    for (let i = 0; i < pods; i++) {
      const uid = crypto.randomUUID();
      const spec = {
        name: `b-${i}`,
        namespace: "bench",
        uid,
        cgroupParent: `/kubepods/besteffort/pod${uid}`,
      };
      const podId = await cri.runPodSandbox(spec);
      const id = await cri.createContainer(podId, spec, {
        name: "app",
        command: [...harness.COMMANDS.idle],
      });
      await cri.startContainer(id);
      const t0 = performance.now();
      await until(() => (store.getByContainerId(id)?.cgroupId ?? null) !== null, 2000);
      lat.push(performance.now() - t0);
      await cri.stopContainer(id);
      await cri.removeContainer(id);
      await cri.stopPodSandbox(podId);
      await cri.removePodSandbox(podId);
    }
  } finally {
    await nri.close();
    cri.close();
    await ctrd.cleanup();
  }
  lat.sort((a, b) => a - b);
  return {
    bench: "nri",
    case: `containerd 1.7.24 StartContainer → resolvable (${pods} pods)`,
    p50Ms: +lat[Math.floor(lat.length / 2)].toFixed(3),
    maxMs: +lat[lat.length - 1].toFixed(3),
  };
}

/** Runs the NRI benchmarks and returns one row per case. */
export async function benchNri(): Promise<Record<string, unknown>[]> {
  return [
    await benchSync(500),
    benchMemory(20_000),
    await benchRealContainerd(20),
  ];
}

if (import.meta.main) console.table(await benchNri());
