/**
 * The NRI plugin logic: answers the runtime's Plugin service calls and keeps the metadata store
 * exact. Every handler replies at once and does its work after the reply is written, so the
 * plugin never delays a pod operation; nothing here ever answers an event with an error.
 */
import type { Logger } from "./logger.ts";
import { NriProtocolError } from "./errors.ts";
import { PLUGIN_SERVICE_CONN } from "./mux.ts";
import { eventBit, NriContainer, NriEvent, NriPod, nriTypes, toPlain } from "./proto.ts";
import { Code, TtrpcRequest } from "./ttrpc.ts";
import type { ServerReply } from "./session.ts";
import type { EntryInput, MetadataStore } from "../metadata/store.ts";
import { type CgroupResolver } from "../metadata/cgroup_dir.ts";
// One name for sandbox entries, whichever source (NRI or OCI bundle) found them.
import { SANDBOX_CONTAINER_NAME } from "../metadata/oci_annotations.ts";
import type protobuf from "protobufjs";

/** Full name of the service the plugin serves (conn 1). */
export const PLUGIN_SERVICE = "nri.pkg.api.v1alpha1.Plugin";
/** Full name of the service the runtime serves (conn 2). */
export const RUNTIME_SERVICE = "nri.pkg.api.v1alpha1.Runtime";

/**
 * Events we subscribe to (0x777): the pod and container lifecycle an observer needs, without
 * CreateContainer/UpdateContainer, which exist for plugins that adjust containers.
 */
export const EVENT_MASK = [
  NriEvent.RUN_POD_SANDBOX,
  NriEvent.STOP_POD_SANDBOX,
  NriEvent.REMOVE_POD_SANDBOX,
  NriEvent.POST_CREATE_CONTAINER,
  NriEvent.START_CONTAINER,
  NriEvent.POST_START_CONTAINER,
  NriEvent.POST_UPDATE_CONTAINER,
  NriEvent.STOP_CONTAINER,
  NriEvent.REMOVE_CONTAINER,
].reduce((m, e) => m | eventBit(e), 0);

const EMPTY = new Uint8Array(0);
const IMAGE_ANNOTATION = "io.kubernetes.cri.image-name";
/** How long an entry whose cgroup is not found yet is retried by the timer. */
const RESOLVE_RETRY_WINDOW_MS = 5000;
const RESOLVE_RETRY_INTERVAL_MS = 5;
const RESOLVE_RETRY_PER_TICK = 256;
/**
 * Store work applied per turn of the event loop: a 100 k-container Synchronize is applied in
 * chunks so the drain, the runtime's next requests and SIGTERM are never held for seconds.
 */
export const SYNC_CHUNK = 2000;
/**
 * Most store updates waiting behind a Synchronize being applied. Each is one event the runtime
 * sent (already answered); past this the session is dropped and the reconnect's Synchronize
 * rebuilds the store, which is exact where dropping events would not be.
 */
export const MAX_PENDING_JOBS = 8192;
/** Most pods + containers accumulated over the chunks of one split Synchronize. */
export const MAX_SYNC_ITEMS = 1 << 20;

/** Options of NriPlugin. */
export interface NriPluginOptions {
  store: MetadataStore;
  resolver: CgroupResolver;
  log: Logger;
  /** Called after a complete Synchronize has been applied to the store. */
  onSynchronized?: (stats: { pods: number; containers: number; removed: number }) => void;
  /** Called as each Configure / final Synchronize request arrives (before it is applied). */
  onRequest?: (method: "Configure" | "Synchronize") => void;
  /** Entries applied per loop turn (default SYNC_CHUNK). */
  syncChunk?: number;
  /** Bound on queued store updates (default MAX_PENDING_JOBS). */
  maxPendingJobs?: number;
}

/** Encodes the RegisterPlugin request payload. */
export function registerPluginPayload(name: string, index: string): Uint8Array {
  return nriTypes.RegisterPluginRequest.encode({ pluginName: name, pluginIdx: index }).finish();
}

/** Handles the Plugin service for one store; survives reconnects (call `resetSession` on each). */
export class NriPlugin {
  #store: MetadataStore;
  #resolver: CgroupResolver;
  #log: Logger;
  #onSynchronized: NriPluginOptions["onSynchronized"];
  #onRequest: NriPluginOptions["onRequest"];
  #syncChunk: number;
  #maxPendingJobs: number;
  #jobs: (() => void | Promise<void>)[] = [];
  #pumping: Promise<void> | null = null;
  #syncPods: NriPod[] = [];
  #syncContainers: NriContainer[] = [];
  #retry = new Map<string, { deadline: number; pid: number }>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #warnedMismatch = false;
  #closed = false;

  constructor(opts: NriPluginOptions) {
    this.#store = opts.store;
    this.#resolver = opts.resolver;
    this.#log = opts.log;
    this.#onSynchronized = opts.onSynchronized;
    this.#onRequest = opts.onRequest;
    this.#syncChunk = opts.syncChunk ?? SYNC_CHUNK;
    this.#maxPendingJobs = opts.maxPendingJobs ?? MAX_PENDING_JOBS;
  }

  /** Store updates queued (events behind a Synchronize still being applied). */
  get pendingJobs(): number {
    return this.#jobs.length;
  }

  /** Entries pending in a split Synchronize not yet complete. */
  get syncBacklog(): number {
    return this.#syncPods.length + this.#syncContainers.length;
  }

  /** Resolves once every queued store update has been applied. */
  async idle(): Promise<void> {
    while (this.#pumping) await this.#pumping;
  }

  /**
   * Queues store work in arrival order; throws (ending the session, whose reconnect resyncs)
   * when the queue is full.
   */
  #enqueue(job: () => void | Promise<void>): void {
    if (this.#closed) return;
    if (this.#jobs.length >= this.#maxPendingJobs) {
      throw new NriProtocolError(
        "backlog",
        PLUGIN_SERVICE_CONN,
        `${this.#jobs.length} store updates queued behind a Synchronize; resyncing`,
      );
    }
    this.#jobs.push(job);
    this.#pumping ??= this.#pump().finally(() => (this.#pumping = null));
  }

  async #pump(): Promise<void> {
    while (this.#jobs.length > 0 && !this.#closed) {
      const job = this.#jobs.shift()!;
      try {
        await job();
      } catch (e) {
        this.#log.error("NRI store update failed", { error: String(e) });
      }
    }
  }

  /** Forgets a half-received Synchronize; call when a new socket session starts. */
  resetSession(): void {
    this.#syncPods = [];
    this.#syncContainers = [];
  }

  /** Stops the resolution retry timer. */
  close(): void {
    this.#closed = true;
    this.#jobs = [];
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#retry.clear();
  }

  /** Entries waiting for their cgroup directory to appear. */
  get unresolvedCount(): number {
    return this.#retry.size;
  }

  /** The request handler for conn 1. */
  handle = (req: TtrpcRequest): ServerReply => {
    if (req.service !== PLUGIN_SERVICE) {
      return { code: Code.UNIMPLEMENTED, message: `service ${req.service}` };
    }
    switch (req.method) {
      case "Configure": {
        const cfg = decode<{ runtimeName: string; runtimeVersion: string }>(
          nriTypes.ConfigureRequest,
          req,
        );
        this.#onRequest?.("Configure");
        return {
          payload: nriTypes.ConfigureResponse.encode({ events: EVENT_MASK }).finish(),
          after: () =>
            this.#log.info("NRI configured", {
              runtime: cfg.runtimeName,
              version: cfg.runtimeVersion,
              events: `0x${EVENT_MASK.toString(16)}`,
            }),
        };
      }
      case "Synchronize": {
        const s = decode<{ pods: NriPod[]; containers: NriContainer[]; more: boolean }>(
          nriTypes.SynchronizeRequest,
          req,
        );
        if (this.syncBacklog + s.pods.length + s.containers.length > MAX_SYNC_ITEMS) {
          this.resetSession();
          throw new NriProtocolError(
            "backlog",
            PLUGIN_SERVICE_CONN,
            `split Synchronize above ${MAX_SYNC_ITEMS} pods and containers`,
          );
        }
        // A loop, not push(...x): a spread of 100 k arguments can overflow the stack.
        for (const p of s.pods) this.#syncPods.push(p);
        for (const c of s.containers) this.#syncContainers.push(c);
        // A split sync (NRI v0.7+): each non-final chunk is answered {more: true}, no updates.
        if (s.more) {
          return { payload: nriTypes.SynchronizeResponse.encode({ more: true }).finish() };
        }
        const pods = this.#syncPods, containers = this.#syncContainers;
        this.resetSession();
        this.#onRequest?.("Synchronize");
        return {
          payload: EMPTY,
          after: () => this.#enqueue(() => this.#applySync(pods, containers)),
        };
      }
      case "StateChange": {
        const ev = decode<{ event: number; pod: NriPod | null; container: NriContainer | null }>(
          nriTypes.StateChangeEvent,
          req,
        );
        return {
          payload: EMPTY,
          after: () => this.#enqueue(() => this.#applyEvent(ev.event, ev.pod, ev.container)),
        };
      }
      case "StopContainer": {
        const r = decode<{ pod: NriPod | null; container: NriContainer | null }>(
          nriTypes.StopContainerRequest,
          req,
        );
        return {
          payload: EMPTY,
          after: () =>
            this.#enqueue(() => this.#applyEvent(NriEvent.STOP_CONTAINER, r.pod, r.container)),
        };
      }
      case "CreateContainer":
      case "UpdateContainer": {
        // Not subscribed; if a runtime sends them anyway, an empty reply means "no adjustment".
        const type = req.method === "CreateContainer"
          ? nriTypes.CreateContainerRequest
          : nriTypes.UpdateContainerRequest;
        const r = decode<{ pod: NriPod | null; container: NriContainer | null }>(type, req);
        const ev = req.method === "CreateContainer"
          ? NriEvent.POST_CREATE_CONTAINER
          : NriEvent.POST_UPDATE_CONTAINER;
        return {
          payload: EMPTY,
          after: () => this.#enqueue(() => this.#applyEvent(ev, r.pod, r.container)),
        };
      }
      case "Shutdown":
        return { payload: EMPTY, after: () => this.#log.info("NRI runtime asked us to shut down") };
      default:
        return { code: Code.UNIMPLEMENTED, message: `method ${req.method}` };
    }
  };

  /** Applies a whole Synchronize in linear time, yielding to the loop every `#syncChunk` entries. */
  async #applySync(pods: NriPod[], containers: NriContainer[]): Promise<void> {
    const store = this.#store;
    const podById = new Map<string, NriPod>();
    for (const p of pods) podById.set(p.id, p);
    store.beginSync();
    let budget = this.#syncChunk;
    const turn = async () => {
      if (--budget > 0) return true;
      budget = this.#syncChunk;
      await new Promise((r) => setTimeout(r, 0));
      return !this.#closed;
    };
    for (const pod of pods) {
      // A NOTREADY pod has no pause process and no cgroup left.
      if (pod.pid > 0) this.#upsertSandbox(pod, true);
      if (!await turn()) return;
    }
    for (const c of containers) {
      this.#upsertContainer(podById.get(c.podSandboxId) ?? null, c, true);
      if (!await turn()) return;
    }
    const removed = store.endSync();
    this.#onSynchronized?.({ pods: pods.length, containers: containers.length, removed });
  }

  #applyEvent(event: number, pod: NriPod | null, c: NriContainer | null): void {
    const store = this.#store;
    switch (event) {
      case NriEvent.RUN_POD_SANDBOX:
        if (pod) this.#upsertSandbox(pod, true);
        break;
      case NriEvent.STOP_POD_SANDBOX:
        if (pod) store.markRemoved(pod.id);
        break;
      case NriEvent.REMOVE_POD_SANDBOX:
        if (pod) store.markPodRemoved(pod.id);
        break;
      case NriEvent.POST_CREATE_CONTAINER:
        if (c) this.#upsertContainer(pod, c, false);
        break;
      case NriEvent.START_CONTAINER:
      case NriEvent.POST_START_CONTAINER:
      case NriEvent.POST_UPDATE_CONTAINER:
        if (c) this.#upsertContainer(pod, c, true);
        break;
      case NriEvent.STOP_CONTAINER:
      case NriEvent.REMOVE_CONTAINER:
        if (c) {
          store.markRemoved(c.id);
          this.#retry.delete(c.id);
        }
        break;
    }
  }

  #upsertSandbox(pod: NriPod, pidValid: boolean): void {
    const store = this.#store;
    const entry = store.upsert({
      containerId: pod.id,
      containerName: SANDBOX_CONTAINER_NAME,
      sandbox: true,
      podId: pod.id,
      podName: str(pod.name),
      podNamespace: str(pod.namespace),
      podUid: str(pod.uid),
      image: null,
      cgroupsPath: str(pod.linux?.cgroupsPath),
      labels: store.select(pod.labels, undefined, store.labelKeys),
      annotations: store.select(pod.annotations, undefined, store.annotationKeys),
    });
    this.#resolve(entry.containerId!, entry.cgroupsPath, pidValid ? pod.pid : 0);
  }

  #upsertContainer(pod: NriPod | null, c: NriContainer, pidValid: boolean): void {
    const store = this.#store;
    const a = c.annotations;
    const input: EntryInput = {
      containerId: c.id,
      containerName: str(c.name),
      sandbox: false,
      podId: str(c.podSandboxId),
      podName: str(pod?.name ?? a["io.kubernetes.cri.sandbox-name"]),
      podNamespace: str(pod?.namespace ?? a["io.kubernetes.cri.sandbox-namespace"]),
      podUid: str(pod?.uid ?? a["io.kubernetes.cri.sandbox-uid"]),
      image: str(a[IMAGE_ANNOTATION]),
      cgroupsPath: str(c.linux?.cgroupsPath),
      labels: store.select(pod?.labels, c.labels, store.labelKeys),
      annotations: store.select(pod?.annotations, a, store.annotationKeys),
    };
    const entry = store.upsert(input);
    this.#resolve(c.id, entry.cgroupsPath, pidValid ? c.pid : 0);
  }

  /** Finds the cgroup inode now, or schedules retries while the directory does not exist yet. */
  #resolve(id: string, cgroupsPath: string | null, pid: number): void {
    if (this.#tryResolve(id, cgroupsPath, pid)) {
      this.#retry.delete(id);
      return;
    }
    // Bounded like the store it serves: the oldest waiting entry gives way.
    if (!this.#retry.has(id) && this.#retry.size >= this.#store.maxEntries) {
      this.#retry.delete(this.#retry.keys().next().value!);
    }
    this.#retry.set(id, { deadline: performance.now() + RESOLVE_RETRY_WINDOW_MS, pid });
    this.#armRetry();
  }

  #tryResolve(id: string, cgroupsPath: string | null, pid: number): boolean {
    let r;
    try {
      r = this.#resolver.resolve(cgroupsPath, pid);
    } catch (e) {
      this.#log.warn("cannot resolve container cgroup", { containerId: id, error: String(e) });
      return true; // a path of no known form will not get better by retrying
    }
    if (!r) return false;
    if (r.procMismatch !== null && !this.#warnedMismatch) {
      this.#warnedMismatch = true;
      this.#log.warn("cgroups_path and /proc/PID/cgroup disagree; using cgroups_path", {
        containerId: id,
        cgroupsPath,
        dir: r.dir,
        procDir: r.procMismatch,
      });
    }
    this.#store.setCgroupId(id, r.inode);
    return true;
  }

  #armRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed || this.#retry.size === 0) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const now = performance.now();
      // A few stats per tick at most: the rest waits its turn (moved to the back), so a sync
      // of many not-yet-created cgroups never blocks the loop. The turn is taken before any is
      // tried: a Map's iterator also visits what is set behind it, so trying while iterating
      // tried one waiting entry 256 times a tick (21 k failed stats/s, 60 MB/s of garbage).
      const due: [string, { deadline: number; pid: number }][] = [];
      for (const entry of this.#retry) {
        if (due.length >= RESOLVE_RETRY_PER_TICK) break;
        due.push(entry);
      }
      for (const [id, r] of due) {
        this.#retry.delete(id);
        const e = this.#store.getByContainerId(id);
        if (!e || e.cgroupId !== null || e.removedAt !== null) continue;
        if (this.#tryResolve(id, e.cgroupsPath, r.pid)) continue;
        if (now <= r.deadline) this.#retry.set(id, r); // past it, the next event tries again
      }
      this.#armRetry();
    }, RESOLVE_RETRY_INTERVAL_MS);
  }
}

function str(s: string | null | undefined): string | null {
  return s ? s : null;
}

function decode<T>(type: protobuf.Type, req: TtrpcRequest): T {
  try {
    return toPlain<T>(type, type.decode(req.payload));
  } catch (e) {
    throw new NriProtocolError(
      "undecodable",
      PLUGIN_SERVICE_CONN,
      `${req.method} payload: ${(e as Error).message}`,
    );
  }
}
