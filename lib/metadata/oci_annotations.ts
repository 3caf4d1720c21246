/**
 * Pod metadata from a container's OCI bundle: CRI runtimes write the pod's identity into the
 * annotations of each container's `config.json`, so it can be read without NRI.
 */
import type { PodMeta } from "./store.ts";

/** Container name given to a pod's sandbox (pause/infra) container, as kubelet has always named it. */
export const SANDBOX_CONTAINER_NAME = "POD";

/** The CRI runtime whose annotation set a config.json carries. */
export type OciRuntime = "containerd" | "cri-o";

/** PodMeta read from an OCI bundle (source "oci"), plus what the bundle says about its kind. */
export interface OciPodMeta extends PodMeta {
  source: "oci";
  /** The pod's sandbox (pause/infra) container rather than an app container. */
  sandbox: boolean;
  /** Id of the pod's sandbox. */
  sandboxId: string | null;
  /** Which runtime's annotation keys were found. */
  runtime: OciRuntime;
}

/** Why a config.json gave no metadata. */
export type OciConfigProblem = "unreadable" | "malformed" | "no-annotations" | "no-pod-annotations";

/** A bundle's config.json that yields no pod metadata, with the reason. */
export class OciConfigError extends Error {
  override name = "OciConfigError";
  /** `path` is the config.json; `detail` the parser's or reader's message, if any. */
  constructor(
    readonly path: string,
    readonly problem: OciConfigProblem,
    readonly detail?: string,
  ) {
    super(`${path}: ${problem}${detail ? ` (${detail})` : ""}`);
  }
}

// containerd's CRI plugin (pkg/cri/annotations).
const CTRD = {
  type: "io.kubernetes.cri.container-type",
  name: "io.kubernetes.cri.container-name",
  sandboxId: "io.kubernetes.cri.sandbox-id",
  podName: "io.kubernetes.cri.sandbox-name",
  podNamespace: "io.kubernetes.cri.sandbox-namespace",
  podUid: "io.kubernetes.cri.sandbox-uid",
  image: "io.kubernetes.cri.image-name",
  sandboxImage: "io.kubernetes.cri.podsandbox.image-name",
} as const;

// CRI-O (pkg/annotations) plus the kubelet keys CRI-O copies into annotations.
const CRIO = {
  type: "io.kubernetes.cri-o.ContainerType",
  name: "io.kubernetes.container.name",
  sandboxId: "io.kubernetes.cri-o.SandboxID",
  podName: "io.kubernetes.pod.name",
  podNamespace: "io.kubernetes.pod.namespace",
  podUid: "io.kubernetes.pod.uid",
  image: "io.kubernetes.cri-o.ImageName",
} as const;

/**
 * PodMeta from the annotations of container `containerId`'s OCI spec, or null when they carry
 * neither runtime's pod keys.
 */
export function podMetaFromAnnotations(
  containerId: string,
  annotations: Record<string, unknown>,
): OciPodMeta | null {
  const get = (k: string): string | null => {
    const v = annotations[k];
    return typeof v === "string" && v !== "" ? v : null;
  };
  const keys = get(CTRD.podName) ?? get(CTRD.podUid) ?? get(CTRD.podNamespace)
    ? CTRD
    : get(CRIO.podName) ?? get(CRIO.podUid) ?? get(CRIO.podNamespace)
    ? CRIO
    : null;
  if (keys === null) return null;
  const sandbox = get(keys.type) === "sandbox";
  return {
    podName: get(keys.podName),
    podNamespace: get(keys.podNamespace),
    podUid: get(keys.podUid),
    containerName: get(keys.name) ?? (sandbox ? SANDBOX_CONTAINER_NAME : null),
    containerId,
    image: get(keys.image) ?? (sandbox && keys === CTRD ? get(CTRD.sandboxImage) : null),
    source: "oci",
    sandbox,
    sandboxId: get(keys.sandboxId) ?? (sandbox ? containerId : null),
    runtime: keys === CTRD ? "containerd" : "cri-o",
  };
}

/**
 * Reads a bundle's config.json into OciPodMeta; throws OciConfigError when the file is
 * unreadable, not an OCI spec, or has no pod annotations, and Deno.errors.NotFound when absent.
 */
export function readOciConfig(path: string, containerId: string): OciPodMeta {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw err;
    throw new OciConfigError(path, "unreadable", String(err));
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new OciConfigError(path, "malformed", (err as Error).message);
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new OciConfigError(path, "malformed", "top level is not an object");
  }
  const annotations = (spec as { annotations?: unknown }).annotations;
  if (annotations === undefined || annotations === null) {
    throw new OciConfigError(path, "no-annotations");
  }
  if (typeof annotations !== "object" || Array.isArray(annotations)) {
    throw new OciConfigError(path, "malformed", "annotations is not an object");
  }
  const meta = podMetaFromAnnotations(containerId, annotations as Record<string, unknown>);
  if (meta === null) throw new OciConfigError(path, "no-pod-annotations");
  return meta;
}
