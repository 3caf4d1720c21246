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
export type OciConfigProblem =
  | "unreadable"
  | "not-regular"
  | "too-large"
  | "timeout"
  | "malformed"
  | "no-annotations"
  | "no-pod-annotations";

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
 * Synchronous: for tools and tests, never for the collector's loop (see readOciConfigAsync).
 */
export function readOciConfig(path: string, containerId: string): OciPodMeta {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw err;
    throw new OciConfigError(path, "unreadable", String(err));
  }
  return parseOciConfig(path, containerId, text);
}

/** Default bound on a config.json read: real ones are 5–50 KiB; a 95 MB one once took RSS to 428 MB. */
export const DEFAULT_MAX_CONFIG_BYTES = 1 << 20;
/** Default time a config.json read may take before it is given up. */
export const DEFAULT_READ_TIMEOUT_MS = 2000;

/** Bounds of readOciConfigAsync. */
export interface OciReadLimits {
  /** Largest config.json read (default 1 MiB). */
  maxBytes?: number;
  /** Whole read deadline, ms (default 2000). */
  timeoutMs?: number;
}

/**
 * readOciConfig without blocking the event loop and without trusting the file: only a regular
 * file is opened (lstat first, so a FIFO or a device planted as config.json is refused instead
 * of hanging the agent, and a symlink is not followed), its size is capped and the whole read
 * has a deadline. Throws as readOciConfig does, with problems `not-regular`, `too-large` and
 * `timeout` besides.
 */
export async function readOciConfigAsync(
  path: string,
  containerId: string,
  limits: OciReadLimits = {},
): Promise<OciPodMeta> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  const timeoutMs = limits.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let file: Deno.FsFile | null = null;
  let timedOut = false;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      try {
        file?.close(); // ends a read stuck on a slow file system
      } catch { /* already */ }
      reject(new OciConfigError(path, "timeout", `not read within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const read = async (): Promise<Uint8Array> => {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw err;
      throw new OciConfigError(path, "unreadable", String(err));
    }
    if (!st.isFile) {
      throw new OciConfigError(path, "not-regular", st.isSymlink ? "a symlink" : "not a file");
    }
    if (st.size > maxBytes) {
      throw new OciConfigError(path, "too-large", `${st.size} bytes, limit ${maxBytes}`);
    }
    try {
      const f = await Deno.open(path, { read: true });
      if (timedOut) {
        f.close();
        throw new OciConfigError(path, "timeout", `not opened within ${timeoutMs} ms`);
      }
      file = f;
      // Swapped between lstat and open (for a FIFO, open itself would have waited): refuse.
      const now = await f.stat();
      if (!now.isFile || now.ino !== st.ino) {
        throw new OciConfigError(path, "not-regular", "replaced while being opened");
      }
      const buf = new Uint8Array(maxBytes + 1);
      let n = 0;
      for (;;) {
        const got = await f.read(buf.subarray(n));
        if (got === null) break;
        n += got;
        if (n > maxBytes) {
          throw new OciConfigError(path, "too-large", `grew past ${maxBytes} bytes`);
        }
      }
      return buf.subarray(0, n);
    } catch (err) {
      if (err instanceof OciConfigError || err instanceof Deno.errors.NotFound) throw err;
      throw new OciConfigError(path, timedOut ? "timeout" : "unreadable", String(err));
    }
  };
  try {
    const bytes = await Promise.race([read(), expired]);
    return parseOciConfig(path, containerId, new TextDecoder().decode(bytes));
  } finally {
    clearTimeout(timer);
    try {
      (file as Deno.FsFile | null)?.close();
    } catch { /* closed by the timeout */ }
  }
}

function parseOciConfig(path: string, containerId: string, text: string): OciPodMeta {
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
