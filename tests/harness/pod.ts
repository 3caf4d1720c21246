/** One-call pod creation the way kubelet lays pods out with the cgroupfs driver. */

import { cgroup2Dir, cgroupInode, procCgroup2Path } from "./cgroup.ts";
import type { CriClient, PodSpec } from "./cri_client.ts";

/** Kubernetes QoS class; decides the cgroup parent like kubelet's cgroupfs driver. */
export type QosClass = "guaranteed" | "burstable" | "besteffort";

/** Busy-loop and idle commands for the busybox image. */
export const COMMANDS = {
  busy: ["sh", "-c", "while :; do :; done"],
  idle: ["sleep", "3600"],
} as const;

/** What `createPod` is asked for. */
export interface PodRequest {
  name: string;
  namespace?: string;
  /** Default: a random UUID. */
  uid?: string;
  qos?: QosClass;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers: { name: string; command: readonly string[]; labels?: Record<string, string> }[];
}

/** A running container of a pod made by `createPod`. */
export interface PodContainer {
  name: string;
  id: string;
  /** Host pid of the container's init process. */
  pid: number;
  /** cgroup path relative to a hierarchy root, `<cgroupParent>/<id>`. */
  cgroupPath: string;
  /** Absolute cgroup2 directory. */
  cgroupDir: string;
  /** Inode of cgroupDir = the BPF cgroup id of the container's processes. */
  cgroupId: bigint;
}

/** A pod made by `createPod`, everything running. */
export interface CreatedPod {
  podId: string;
  uid: string;
  spec: PodSpec;
  cgroupParent: string;
  containers: PodContainer[];
}

/** The cgroupfs parent kubelet gives a pod: `/kubepods[/<qos>]/pod<uid>`. */
export function cgroupParentFor(qos: QosClass, uid: string): string {
  return qos === "guaranteed" ? `/kubepods/pod${uid}` : `/kubepods/${qos}/pod${uid}`;
}

/**
 * Runs a pod sandbox and creates and starts its containers (busybox image), then reads each
 * container's pid (CRI verbose status) and cgroup2 directory and inode.
 *
 * @example
 * const pod = await createPod(cri, { name: "web", containers: [{ name: "spin", command: COMMANDS.busy }] });
 * pod.containers[0].cgroupId; // matches record.cgroup_id of its samples
 */
export async function createPod(cri: CriClient, req: PodRequest): Promise<CreatedPod> {
  const uid = req.uid ?? crypto.randomUUID();
  const cgroupParent = cgroupParentFor(req.qos ?? "burstable", uid);
  const spec: PodSpec = {
    name: req.name,
    namespace: req.namespace ?? "default",
    uid,
    cgroupParent,
    labels: req.labels,
    annotations: req.annotations,
  };
  const podId = await cri.runPodSandbox(spec);
  const containers: PodContainer[] = [];
  for (const c of req.containers) {
    const id = await cri.createContainer(podId, spec, {
      name: c.name,
      command: [...c.command],
      labels: c.labels,
    });
    await cri.startContainer(id);
    const { pid } = await cri.containerStatus(id);
    // The kernel's view, not a path rebuilt from strings: what the sampler will see.
    const cgroupPath = procCgroup2Path(pid);
    const cgroupDir = cgroup2Dir(cgroupPath);
    containers.push({
      name: c.name,
      id,
      pid,
      cgroupPath,
      cgroupDir,
      cgroupId: cgroupInode(cgroupDir),
    });
  }
  return { podId, uid, spec, cgroupParent, containers };
}
