import assert from "@podperf/assert";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { NriEvent, nriTypes } from "../../lib/nri/proto.ts";
import { Code } from "../../lib/nri/ttrpc.ts";
import { EVENT_MASK } from "../../lib/nri/plugin.ts";
import { SANDBOX_CONTAINER_NAME } from "../../lib/metadata/mod.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { CgroupResolver, detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { recorder, until } from "./log_recorder.ts";

const MOUNT = detectCgroup2Mount()!;
const BASE = `/podperf-plugin-test-${Deno.pid}`;

/** Real cgroup directories so that resolution gives real inodes. */
function cgroup(rel: string): { path: string; ino: bigint } {
  Deno.mkdirSync(MOUNT + BASE + rel, { recursive: true });
  return { path: BASE + rel, ino: BigInt(Deno.statSync(MOUNT + BASE + rel).ino!) };
}

function removeCgroups(): void {
  const dirs: string[] = [];
  const walk = (d: string) => {
    dirs.push(d);
    for (const e of Deno.readDirSync(d)) if (e.isDirectory) walk(`${d}/${e.name}`);
  };
  try {
    walk(MOUNT + BASE);
  } catch {
    return;
  }
  for (const d of dirs.reverse()) Deno.removeSync(d);
}

const id = (s: string) => s.padEnd(64, "0");

function pod(name: string, pid = 100) {
  const pid_ = id(`pod${name}`);
  const cg = cgroup(`/kubepods/pod${name}/${pid_}`);
  return {
    msg: {
      id: pid_,
      name,
      uid: `uid-${name}`,
      namespace: "shop",
      labels: { app: name, "io.cri-containerd.kind": "sandbox" },
      linux: { cgroupParent: `${BASE}/kubepods/pod${name}`, cgroupsPath: cg.path },
      pid,
    },
    ino: cg.ino,
  };
}

function container(p: ReturnType<typeof pod>, name: string, state = 3, pid = 200, mk = true) {
  const cid = id(`c${p.msg.name}${name}`);
  const path = `${BASE}/kubepods/pod${p.msg.name}/${cid}`;
  const ino = mk ? cgroup(`/kubepods/pod${p.msg.name}/${cid}`).ino : 0n;
  return {
    msg: {
      id: cid,
      podSandboxId: p.msg.id,
      name,
      state,
      labels: { tier: "web" },
      annotations: { "io.kubernetes.cri.image-name": "busybox:1.35" },
      linux: { cgroupsPath: path },
      pid,
    },
    ino,
    path,
  };
}

async function setup(
  opts: { index?: string; graceMs?: number; resolver?: CgroupResolver } = {},
) {
  const rt = FakeRuntime.start();
  const { log, lines } = recorder();
  const store = new MetadataStore({ gracePeriodMs: opts.graceMs ?? 10_000, labelKeys: ["app"] });
  const nri = startNriPlugin({
    socketPath: rt.path,
    store,
    log,
    pluginIndex: opts.index,
    resolver: opts.resolver ?? new CgroupResolver({ mount: MOUNT }),
    minBackoffMs: 10,
    maxBackoffMs: 50,
  });
  const peer = await rt.accept();
  const done = async () => {
    await nri.close();
    await rt.close();
    removeCgroups();
  };
  return { rt, store, nri, peer, log, lines, done };
}

Deno.test("plugin registers as podperf, answers Configure with 0x777 and syncs the store", async () => {
  const t = await setup({ index: "42" });
  try {
    const reg = await t.peer.nextRequest();
    assert.equal(reg.service, "nri.pkg.api.v1alpha1.Runtime");
    assert.equal(reg.method, "RegisterPlugin");
    assert.deepEqual(
      nriTypes.RegisterPluginRequest.toObject(nriTypes.RegisterPluginRequest.decode(reg.payload)),
      { pluginName: "podperf", pluginIdx: "42" },
    );
    const a = pod("a"), b = pod("b");
    const a1 = container(a, "app"), b1 = container(b, "app"), b2 = container(b, "sidecar");
    const mask = await t.peer.handshake({
      pods: [a.msg, b.msg],
      containers: [a1.msg, b1.msg, b2.msg],
    });
    assert.equal(mask, EVENT_MASK);
    await t.nri.synchronized;
    assert.equal(t.nri.connected, true);
    assert.equal(t.store.size, 5);
    const m = t.store.lookup(b2.ino)!;
    assert.deepEqual(
      [m.podName, m.podNamespace, m.podUid, m.containerName, m.containerId, m.image],
      ["b", "shop", "uid-b", "sidecar", b2.msg.id, "busybox:1.35"],
    );
    const sandbox = t.store.getByContainerId(a.msg.id)!;
    assert.equal(sandbox.sandbox, true);
    assert.equal(sandbox.containerName, SANDBOX_CONTAINER_NAME);
    assert.equal(t.store.lookup(a.ino)?.podName, "a");
    assert.deepEqual(t.store.getByContainerId(a1.msg.id)?.labels, { app: "a" });
  } finally {
    await t.done();
  }
});

Deno.test("plugin answers split Synchronize chunks with more=true and applies the whole", async () => {
  const t = await setup();
  try {
    const a = pod("a"), b = pod("b");
    const a1 = container(a, "app"), b1 = container(b, "app");
    await t.peer.call("Configure", nriTypes.ConfigureRequest.encode({}).finish());
    const r1 = await t.peer.call(
      "Synchronize",
      nriTypes.SynchronizeRequest.encode({ pods: [a.msg], containers: [a1.msg], more: true })
        .finish(),
    );
    assert.equal(r1.code, 0);
    assert.deepEqual(
      nriTypes.SynchronizeResponse.toObject(nriTypes.SynchronizeResponse.decode(r1.payload)),
      { more: true },
    );
    assert.equal(t.store.size, 0, "nothing applied before the final chunk");
    const r2 = await t.peer.call(
      "Synchronize",
      nriTypes.SynchronizeRequest.encode({ pods: [b.msg], containers: [b1.msg] }).finish(),
    );
    assert.equal(r2.payload.length, 0);
    await t.nri.synchronized;
    assert.equal(t.store.lookup(a1.ino)?.containerName, "app");
    assert.equal(t.store.lookup(b1.ino)?.podName, "b");
  } finally {
    await t.done();
  }
});

Deno.test("plugin answers unknown methods and services with UNIMPLEMENTED", async () => {
  const t = await setup();
  try {
    await t.peer.handshake();
    const m = await t.peer.call("RunPodSandbox", new Uint8Array(0));
    assert.equal(m.code, Code.UNIMPLEMENTED);
    assert.equal(m.message, "method RunPodSandbox");
    const s = await t.peer.callRaw("some.Other", "Configure", new Uint8Array(0));
    assert.equal(s.code, Code.UNIMPLEMENTED);
    assert.equal(s.message, "service some.Other");
    assert.equal(t.nri.connected, true, "still connected");
  } finally {
    await t.done();
  }
});

Deno.test("plugin follows the container lifecycle and keeps removed ones for the grace", async () => {
  const t = await setup({ graceMs: 200 });
  try {
    await t.peer.handshake();
    const a = pod("a");
    const ev = (event: number, c?: ReturnType<typeof container>) =>
      t.peer.call(
        event === NriEvent.STOP_CONTAINER ? "StopContainer" : "StateChange",
        event === NriEvent.STOP_CONTAINER
          ? nriTypes.StopContainerRequest.encode({ pod: a.msg, container: c!.msg }).finish()
          : nriTypes.StateChangeEvent.encode({ event, pod: a.msg, container: c?.msg }).finish(),
      );
    await ev(NriEvent.RUN_POD_SANDBOX);
    // POST_CREATE: no pid, the cgroup does not exist yet.
    const c = container(a, "app", 1, 0, false);
    await ev(NriEvent.POST_CREATE_CONTAINER, c);
    assert.ok(await until(() => t.store.getByContainerId(c.msg.id) !== undefined));
    assert.equal(t.store.getByContainerId(c.msg.id)!.cgroupId, null);
    // runc creates the cgroup; START_CONTAINER arrives with the pid.
    const ino = cgroup(c.path.slice(BASE.length)).ino;
    const r = await ev(NriEvent.START_CONTAINER, { ...c, msg: { ...c.msg, pid: 4242 } });
    const t0 = performance.now();
    assert.equal(r.code, 0);
    assert.ok(await until(() => t.store.lookup(ino) !== undefined, 1000));
    console.log(`resolvable ${(performance.now() - t0).toFixed(2)} ms after the reply`);
    assert.equal(t.store.lookup(a.ino)?.containerName, SANDBOX_CONTAINER_NAME);
    await ev(NriEvent.STOP_CONTAINER, c);
    assert.ok(await until(() => t.store.getByContainerId(c.msg.id)?.removedAt !== null));
    assert.equal(t.store.lookup(ino)?.containerName, "app", "resolvable during the grace");
    await ev(NriEvent.REMOVE_CONTAINER, c);
    await ev(NriEvent.STOP_POD_SANDBOX);
    await ev(NriEvent.REMOVE_POD_SANDBOX);
    assert.ok(await until(() => t.store.size === 0, 3000), "swept after the grace");
    assert.equal(t.store.lookup(ino), undefined);
  } finally {
    await t.done();
  }
});

Deno.test("plugin resolves a cgroup that appears shortly after START_CONTAINER", async () => {
  const t = await setup();
  try {
    await t.peer.handshake();
    const a = pod("a");
    const c = container(a, "late", 1, 0, false);
    await t.peer.call(
      "StateChange",
      nriTypes.StateChangeEvent.encode({
        event: NriEvent.START_CONTAINER,
        pod: a.msg,
        container: c.msg,
      }).finish(),
    );
    assert.ok(await until(() => t.store.getByContainerId(c.msg.id) !== undefined));
    await new Promise((r) => setTimeout(r, 30));
    const ino = cgroup(c.path.slice(BASE.length)).ino;
    const t0 = performance.now();
    assert.ok(await until(() => t.store.lookup(ino) !== undefined, 100), "within 100 ms");
    console.log(`retry found it ${(performance.now() - t0).toFixed(2)} ms after mkdir`);
  } finally {
    await t.done();
  }
});

/** A resolver that counts its calls per cgroups_path. */
class CountingResolver extends CgroupResolver {
  readonly calls = new Map<string, number>();
  override resolve(cgroupsPath: string | null, pid = 0) {
    this.calls.set(cgroupsPath ?? "", (this.calls.get(cgroupsPath ?? "") ?? 0) + 1);
    return super.resolve(cgroupsPath, pid);
  }
}

Deno.test("plugin tries a cgroup that is not there yet once per retry tick, not once per budget slot", async () => {
  const resolver = new CountingResolver({ mount: MOUNT });
  const t = await setup({ resolver });
  try {
    await t.peer.handshake();
    const a = pod("a");
    // Created but never started (a container that died at once): its cgroup never appears.
    const c = container(a, "never", 1, 0, false);
    const t0 = performance.now();
    await t.peer.call(
      "StateChange",
      nriTypes.StateChangeEvent.encode({
        event: NriEvent.POST_CREATE_CONTAINER,
        pod: a.msg,
        container: c.msg,
      }).finish(),
    );
    await new Promise((r) => setTimeout(r, 300));
    const calls = resolver.calls.get(c.path) ?? 0;
    const elapsed = performance.now() - t0;
    assert.equal(t.store.getByContainerId(c.msg.id)?.cgroupId, null, "still without a cgroup");
    // Timers fire no more often than their interval (5 ms): one try per tick, plus the
    // event's own. Trying while iterating the waiting Map made it hundreds per tick.
    const most = Math.ceil(elapsed / 5) + 2;
    console.log(`${calls} tries in ${elapsed.toFixed(0)} ms (at most ${most})`);
    assert.ok(calls >= 2, `retried (${calls} tries)`);
    assert.ok(calls <= most, `${calls} tries in ${elapsed.toFixed(0)} ms: more than one a tick`);
  } finally {
    await t.done();
  }
});

Deno.test("plugin reconnects when the runtime closes and resyncs without losing live entries", async () => {
  const t = await setup({ graceMs: 100 });
  try {
    const a = pod("a");
    const keep = container(a, "keep"), gone = container(a, "gone");
    await t.peer.handshake({ pods: [a.msg], containers: [keep.msg, gone.msg] });
    await t.nri.synchronized;
    const entry = t.store.getByContainerId(keep.msg.id);
    await t.peer.close();
    const peer2 = await t.rt.accept();
    const reg = await peer2.nextRequest();
    assert.equal(reg.method, "RegisterPlugin");
    assert.equal(t.store.lookup(keep.ino)?.containerName, "keep", "resolvable while away");
    const synced = t.nri.nextSync();
    await peer2.handshake({ pods: [a.msg], containers: [keep.msg] });
    await synced;
    assert.equal(t.nri.stats.sessions, 2);
    assert.equal(t.store.getByContainerId(keep.msg.id), entry, "same entry kept");
    assert.notEqual(t.store.getByContainerId(gone.msg.id)?.removedAt ?? null, null);
    assert.ok(await until(() => t.store.getByContainerId(gone.msg.id) === undefined, 3000));
    assert.equal(t.store.lookup(keep.ino)?.containerName, "keep");
    assert.ok(t.lines.some((l) => l.msg.includes("closed by the runtime")));
  } finally {
    await t.done();
  }
});

Deno.test("plugin without a socket logs once, keeps retrying and closes cleanly", async () => {
  const { log, lines } = recorder();
  const dir = Deno.makeTempDirSync();
  const nri = startNriPlugin({
    socketPath: `${dir}/absent.sock`,
    store: new MetadataStore(),
    log,
    minBackoffMs: 5,
    maxBackoffMs: 10,
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(nri.connected, false);
  assert.equal(lines.filter((l) => l.level === "warn").length, 1);
  await nri.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("plugin refuses a plugin index that is not two digits", () => {
  assert.throws(() => startNriPlugin({ store: new MetadataStore(), pluginIndex: "5" }), RangeError);
});
