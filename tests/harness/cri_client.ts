/**
 * A small CRI client: runtime.v1.RuntimeService and ImageService over gRPC on containerd's
 * unix socket, the way kubelet talks to it. The api.proto comes from Debian's
 * golang-github-kubernetes-cri-api-dev, fetched at test time by scripts/fetch_containerd.sh.
 *
 * @grpc/grpc-js runs under Deno as is: its http2 client over a `unix:` target works with
 * Deno's node:http2 (a Version round trip takes ~2 ms once connected), so no Node subprocess.
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { DEFAULT_CGROUP_PARENT, trackCgroupParent } from "./cgroup.ts";
import { SANDBOX_IMAGE } from "./sandbox_image.ts";
import { ensureRuntimeFetched, RUNTIME_FILES } from "./runtime_files.ts";

/** What a test says about a pod; the client turns it into a CRI PodSandboxConfig. */
export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  /** cgroupfs parent such as `/kubepods/burstable/pod<uid>`; absent → containerd's `/k8s.io/<id>`. */
  cgroupParent?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What a test says about a container; the image is always the harness's busybox image. */
export interface ContainerSpec {
  name: string;
  /** argv[0..] (CRI `command`, the image entrypoint override). */
  command: string[];
  args?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Environment as NAME → value. */
  env?: Record<string, string>;
}

/** CRI container states as containerd reports them. */
export type ContainerState =
  | "CONTAINER_CREATED"
  | "CONTAINER_RUNNING"
  | "CONTAINER_EXITED"
  | "CONTAINER_UNKNOWN";

/** The parts of CRI ContainerStatus (verbose) the tests use. */
export interface ContainerStatusInfo {
  id: string;
  name: string;
  state: ContainerState;
  /** Host pid of the container's init process; 0 when not running. */
  pid: number;
  exitCode: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The verbose `info` map, each value parsed from JSON. */
  info: Record<string, unknown>;
}

/** One entry of ListContainers. */
export interface ContainerSummary {
  id: string;
  podSandboxId: string;
  name: string;
  state: ContainerState;
  labels: Record<string, string>;
}

/** One entry of ListPodSandbox. */
export interface PodSummary {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
}

/** Resource changes for UpdateContainerResources (cgroupfs units as in CRI). */
export interface ResourceUpdate {
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimitBytes?: number;
}

/** A failed CRI call, with the gRPC status the runtime returned. */
export class CriError extends Error {
  /** Carries the method, gRPC code and the runtime's message. */
  constructor(readonly method: string, readonly code: number, readonly details: string) {
    super(`CRI ${method} failed: code ${code} (${grpc.status[code] ?? "?"}): ${details}`);
    this.name = "CriError";
  }
}

/** gRPC NamespaceMode values (api.proto). */
const NODE = 2;
const CONTAINER = 1;
const POD = 0;

// deno-lint-ignore no-explicit-any
type GrpcService = any;
let servicesPromise: Promise<{ runtime: GrpcService; image: GrpcService }> | undefined;

function loadServices(): Promise<{ runtime: GrpcService; image: GrpcService }> {
  servicesPromise ??= (async () => {
    await ensureRuntimeFetched();
    const def = await protoLoader.load(RUNTIME_FILES.criProto, {
      keepCase: true, // field names exactly as in api.proto
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    // deno-lint-ignore no-explicit-any
    const pkg = grpc.loadPackageDefinition(def) as any;
    return { runtime: pkg.runtime.v1.RuntimeService, image: pkg.runtime.v1.ImageService };
  })();
  return servicesPromise;
}

/** Builds the CRI PodSandboxConfig for a spec: host network, own pid namespace. */
export function podSandboxConfig(pod: PodSpec): Record<string, unknown> {
  return {
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
    hostname: "",
    labels: pod.labels ?? {},
    annotations: pod.annotations ?? {},
    linux: {
      cgroup_parent: pod.cgroupParent ?? "",
      security_context: {
        // No CNI here: host networking is what lets a pod start at all.
        namespace_options: { network: NODE, pid: CONTAINER, ipc: POD },
      },
    },
  };
}

function containerConfig(c: ContainerSpec): Record<string, unknown> {
  return {
    metadata: { name: c.name, attempt: 0 },
    image: { image: SANDBOX_IMAGE },
    command: c.command,
    args: c.args ?? [],
    envs: Object.entries(c.env ?? {}).map(([key, value]) => ({ key, value })),
    labels: c.labels ?? {},
    annotations: c.annotations ?? {},
    linux: {
      security_context: { namespace_options: { network: NODE, pid: CONTAINER, ipc: POD } },
    },
  };
}

const DEADLINE_MS = 30_000;

// The verbose `info` map holds JSON documents as strings.
function parseInfo(raw: Record<string, string> | undefined): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    try {
      info[k] = JSON.parse(v);
    } catch {
      info[k] = v;
    }
  }
  return info;
}

/** A connection to one containerd's CRI socket. */
export class CriClient {
  #runtime: grpc.Client & Record<string, GrpcService>;
  #image: grpc.Client & Record<string, GrpcService>;

  private constructor(readonly socket: string, runtime: GrpcService, image: GrpcService) {
    this.#runtime = runtime;
    this.#image = image;
  }

  /** Connects to `criSocket` (a path) and waits until the channel is ready. */
  static async connect(criSocket: string): Promise<CriClient> {
    const { runtime, image } = await loadServices();
    const target = `unix://${criSocket}`;
    const creds = grpc.credentials.createInsecure();
    const c = new CriClient(criSocket, new runtime(target, creds), new image(target, creds));
    await new Promise<void>((resolve, reject) =>
      c.#runtime.waitForReady(Date.now() + 10_000, (err?: Error) => {
        if (err) {
          c.close();
          reject(new CriError("connect", grpc.status.UNAVAILABLE, `${target}: ${err.message}`));
        } else resolve();
      })
    );
    return c;
  }

  #call<T>(service: GrpcService, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      service[method](
        req,
        { deadline: Date.now() + DEADLINE_MS },
        (err: grpc.ServiceError | null, res: T) => {
          if (err) reject(new CriError(method, err.code, err.details ?? err.message));
          else resolve(res);
        },
      );
    });
  }

  /** CRI Version: the runtime name and version (also a cheap liveness probe). */
  async version(): Promise<{ runtimeName: string; runtimeVersion: string; apiVersion: string }> {
    const r = await this.#call<Record<string, string>>(this.#runtime, "Version", {});
    return {
      runtimeName: r.runtime_name,
      runtimeVersion: r.runtime_version,
      apiVersion: r.runtime_api_version,
    };
  }

  /** True when the CRI image store knows `ref`. */
  async hasImage(ref: string): Promise<boolean> {
    const r = await this.#call<{ image: unknown }>(this.#image, "ImageStatus", {
      image: { image: ref },
    });
    return r.image !== null && r.image !== undefined;
  }

  /** Creates and starts a pod sandbox; returns its id. */
  async runPodSandbox(pod: PodSpec): Promise<string> {
    trackCgroupParent(this.socket, pod.cgroupParent || DEFAULT_CGROUP_PARENT);
    const r = await this.#call<{ pod_sandbox_id: string }>(this.#runtime, "RunPodSandbox", {
      config: podSandboxConfig(pod),
    });
    return r.pod_sandbox_id;
  }

  /** Creates a container in a pod; `pod` is the spec the pod was run with. Returns its id. */
  async createContainer(podId: string, pod: PodSpec, container: ContainerSpec): Promise<string> {
    const r = await this.#call<{ container_id: string }>(this.#runtime, "CreateContainer", {
      pod_sandbox_id: podId,
      config: containerConfig(container),
      sandbox_config: podSandboxConfig(pod),
    });
    return r.container_id;
  }

  /** Starts a created container. */
  async startContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "StartContainer", { container_id: id });
  }

  /**
   * Stops a container. The default timeout 0 means SIGKILL at once: busybox as pid 1 of its
   * pid namespace ignores SIGTERM, so a grace period would only be waited out.
   */
  async stopContainer(id: string, timeoutSec = 0): Promise<void> {
    await this.#call(this.#runtime, "StopContainer", { container_id: id, timeout: timeoutSec });
  }

  /** Removes a container (stopping it first if needed). */
  async removeContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "RemoveContainer", { container_id: id });
  }

  /** Updates a running container's cgroup resources (emits NRI UpdateContainer). */
  async updateContainerResources(id: string, res: ResourceUpdate): Promise<void> {
    await this.#call(this.#runtime, "UpdateContainerResources", {
      container_id: id,
      linux: {
        cpu_shares: res.cpuShares ?? 0,
        cpu_quota: res.cpuQuota ?? 0,
        cpu_period: res.cpuPeriod ?? 0,
        memory_limit_in_bytes: res.memoryLimitBytes ?? 0,
      },
    });
  }

  /** Stops a pod sandbox and all its containers. */
  async stopPodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, "StopPodSandbox", { pod_sandbox_id: id });
  }

  /** Removes a pod sandbox and all its containers. */
  async removePodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, "RemovePodSandbox", { pod_sandbox_id: id });
  }

  /** Verbose ContainerStatus: state, host pid (from the `info` JSON) and exit code. */
  async containerStatus(id: string): Promise<ContainerStatusInfo> {
    // deno-lint-ignore no-explicit-any
    const r = await this.#call<any>(this.#runtime, "ContainerStatus", {
      container_id: id,
      verbose: true,
    });
    const info = parseInfo(r.info);
    const verbose = info.info as { pid?: number } | undefined;
    return {
      id: r.status.id,
      name: r.status.metadata?.name ?? "",
      state: r.status.state,
      pid: verbose?.pid ?? 0,
      exitCode: r.status.exit_code,
      labels: r.status.labels,
      annotations: r.status.annotations,
      info,
    };
  }

  /** Verbose PodSandboxStatus: state and the `info` map parsed from JSON. */
  async podSandboxStatus(
    id: string,
  ): Promise<{ id: string; state: string; info: Record<string, unknown> }> {
    // deno-lint-ignore no-explicit-any
    const r = await this.#call<any>(this.#runtime, "PodSandboxStatus", {
      pod_sandbox_id: id,
      verbose: true,
    });
    const info = parseInfo(r.info);
    return { id: r.status.id, state: r.status.state, info };
  }

  /** All containers the runtime knows, in every state. */
  async listContainers(): Promise<ContainerSummary[]> {
    // deno-lint-ignore no-explicit-any
    const r = await this.#call<any>(this.#runtime, "ListContainers", {});
    // deno-lint-ignore no-explicit-any
    return (r.containers ?? []).map((c: any) => ({
      id: c.id,
      podSandboxId: c.pod_sandbox_id,
      name: c.metadata?.name ?? "",
      state: c.state,
      labels: c.labels,
    }));
  }

  /** All pod sandboxes the runtime knows, ready or not. */
  async listPodSandboxes(): Promise<PodSummary[]> {
    // deno-lint-ignore no-explicit-any
    const r = await this.#call<any>(this.#runtime, "ListPodSandbox", {});
    // deno-lint-ignore no-explicit-any
    return (r.items ?? []).map((p: any) => ({
      id: p.id,
      name: p.metadata?.name ?? "",
      namespace: p.metadata?.namespace ?? "",
      uid: p.metadata?.uid ?? "",
      state: p.state,
    }));
  }

  /** Closes the gRPC channels. */
  close(): void {
    this.#runtime.close();
    this.#image.close();
  }
}
