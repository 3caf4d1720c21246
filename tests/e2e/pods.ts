/**
 * Pod steps of the end-to-end tests that need times the harness's createPod does not give:
 * when StartContainer returned, and a removal that reads the pod's final CPU usage while its
 * cgroup parent still exists.
 */
import {
  cgroup2Dir,
  cgroupInode,
  cgroupParentFor,
  type CreatedPod,
  CriClient,
  type PodContainer,
  procCgroup2Path,
} from "../harness/mod.ts";
import type { PodSpec } from "../harness/cri_client.ts";

/** A pod started by `startPodTimed`, with the wall-clock instant StartContainer returned. */
export interface TimedPod {
  pod: CreatedPod;
  /** Date.now() right after the (last) StartContainer call returned. */
  startReturnedMs: number;
}

/** Runs a one-pod sandbox with these containers (burstable QoS) and notes when each started. */
export async function startPodTimed(
  cri: CriClient,
  name: string,
  namespace: string,
  containers: { name: string; command: readonly string[] }[],
): Promise<TimedPod> {
  const uid = crypto.randomUUID();
  const cgroupParent = cgroupParentFor("burstable", uid);
  const spec: PodSpec = { name, namespace, uid, cgroupParent };
  const podId = await cri.runPodSandbox(spec);
  const out: PodContainer[] = [];
  let startReturnedMs = 0;
  for (const c of containers) {
    const id = await cri.createContainer(podId, spec, { name: c.name, command: [...c.command] });
    await cri.startContainer(id);
    startReturnedMs = Date.now();
    const { pid } = await cri.containerStatus(id);
    const cgroupPath = procCgroup2Path(pid);
    const cgroupDir = cgroup2Dir(cgroupPath);
    out.push({ name: c.name, id, pid, cgroupPath, cgroupDir, cgroupId: cgroupInode(cgroupDir) });
  }
  return { pod: { podId, uid, spec, cgroupParent, containers: out }, startReturnedMs };
}

/** Every cgroup id of a pod: its containers' and its sandbox's (pause) cgroup. */
export function podCgroupIds(pod: CreatedPod): bigint[] {
  return [
    ...pod.containers.map((c) => c.cgroupId),
    cgroupInode(cgroup2Dir(`${pod.cgroupParent}/${pod.podId}`)),
  ];
}

/** Wall-clock instants of a pod removal through the CRI. */
export interface Removal {
  /** Date.now() just before the first StopContainer call. */
  stopCalledMs: number;
  /** Date.now() right after the last StopContainer returned: no container process runs. */
  stoppedMs: number;
}

/**
 * Stops and removes a pod's containers and sandbox as kubelet does. `beforeRemove` runs once
 * everything is stopped but before the sandbox is removed (the cgroup parent still exists).
 */
export async function removePodTimed(
  cri: CriClient,
  pod: CreatedPod,
  beforeRemove: () => void = () => {},
): Promise<Removal> {
  const stopCalledMs = Date.now();
  for (const c of pod.containers) await cri.stopContainer(c.id, 0);
  const stoppedMs = Date.now();
  for (const c of pod.containers) await cri.removeContainer(c.id);
  await cri.stopPodSandbox(pod.podId);
  beforeRemove();
  await cri.removePodSandbox(pod.podId);
  return { stopCalledMs, stoppedMs };
}
