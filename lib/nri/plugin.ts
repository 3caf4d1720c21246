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

/** Options of NriPlugin. */
export interface NriPluginOptions {
  store: MetadataStore;
  resolver: CgroupResolver;
  log: Logger;
  /** Called after a complete Synchronize has been applied to the store. */
  onSynchronized?: (stats: { pods: number; containers: number; removed: number }) => void;
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
  }

  /** Forgets a half-received Synchronize; call when a new socket session starts. */
  resetSession(): void {
    this.#syncPods = [];
    this.#syncContainers = [];
  }

  /** Stops the resolution retry timer. */
  close(): void {
    this.#closed = true;
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
        this.#syncPods.push(...s.pods);
        this.#syncContainers.push(...s.containers);
        // A split sync (NRI v0.7+): each non-final chunk is answered {more: true}, no updates.
        if (s.more) {
          return { payload: nriTypes.SynchronizeResponse.encode({ more: true }).finish() };
        }
        const pods = this.#syncPods, containers = this.#syncContainers;
        this.resetSession();
        return { payload: EMPTY, after: () => this.#applySync(pods, containers) };
      }
      case "StateChange": {
        const ev = decode<{ event: number; pod: NriPod | null; container: NriContainer | null }>(
          nriTypes.StateChangeEvent,
          req,
        );
        return { payload: EMPTY, after: () => this.#applyEvent(ev.event, ev.pod, ev.container) };
      }
      case "StopContainer": {
        const r = decode<{ pod: NriPod | null; container: NriContainer | null }>(
          nriTypes.StopContainerRequest,
          req,
        );
        return {
          payload: EMPTY,
          after: () => this.#applyEvent(NriEvent.STOP_CONTAINER, r.pod, r.container),
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
        return { payload: EMPTY, after: () => this.#applyEvent(ev, r.pod, r.container) };
      }
      case "Shutdown":
        return { payload: EMPTY, after: () => this.#log.info("NRI runtime asked us to shut down") };
      default:
        return { code: Code.UNIMPLEMENTED, message: `method ${req.method}` };
    }
  };

  #applySync(pods: NriPod[], containers: NriContainer[]): void {
    const store = this.#store;
    const podById = new Map(pods.map((p) => [p.id, p]));
    store.beginSync();
    for (const pod of pods) {
      // A NOTREADY pod has no pause process and no cgroup left.
      if (pod.pid > 0) this.#upsertSandbox(pod, true);
    }
    for (const c of containers) this.#upsertContainer(podById.get(c.podSandboxId) ?? null, c, true);
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
      for (const [id, r] of this.#retry) {
        const e = this.#store.getByContainerId(id);
        if (!e || e.cgroupId !== null || e.removedAt !== null) {
          this.#retry.delete(id);
        } else if (this.#tryResolve(id, e.cgroupsPath, r.pid)) {
          this.#retry.delete(id);
        } else if (now > r.deadline) {
          this.#retry.delete(id); // the next event for it tries again
        }
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
