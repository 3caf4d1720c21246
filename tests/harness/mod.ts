/**
 * Real-containerd test harness: a private containerd 1.7.24 (Debian) per test with CRI and
 * NRI, a CRI client over gRPC, a busybox image built locally, and pod helpers that report
 * each container's pid and cgroup2 directory and inode. Tests must run as root.
 *
 * Runtime files come from `bash scripts/fetch_containerd.sh` (run automatically on first use
 * when .cache/containerd is missing; fails with RuntimeUnavailableError if it cannot fetch).
 *
 * @example
 * import { COMMANDS, CriClient, createPod, startContainerd } from "../harness/mod.ts";
 *
 * const ctrd = await startContainerd({ nri: true }); // ctrd.nriSocket is listening
 * const cri = await CriClient.connect(ctrd.criSocket);
 * try {
 *   const pod = await createPod(cri, {
 *     name: "web",
 *     namespace: "shop",
 *     qos: "burstable",
 *     containers: [{ name: "spin", command: COMMANDS.busy }, { name: "nap", command: COMMANDS.idle }],
 *   });
 *   pod.containers[0].pid;      // host pid of the busy loop
 *   pod.containers[0].cgroupId; // cgroup2 inode = what bpf_get_current_cgroup_id returns
 *   await ctrd.kill();          // containerd crash: shims and pods keep running
 *   await ctrd.restart();       // same sockets, pods still there
 * } finally {
 *   cri.close();
 *   await ctrd.cleanup();       // pods, shims, mounts, cgroup dirs and the temp dir gone
 * }
 *
 * Containerd: `criSocket`, `nriSocket`, `dir`, `logPath`, `pid`, `start()`, `stop()`,
 * `kill()`, `restart()`, `ctr(...args)`, `shimPids()`, `readLog()`, `cleanup()`.
 * CriClient: `connect(socket)`, `version()`, `runPodSandbox(spec)`,
 * `createContainer(podId, podSpec, spec)`, `startContainer`, `stopContainer(id, timeoutSec=0)`,
 * `removeContainer`, `updateContainerResources`, `stopPodSandbox`, `removePodSandbox`,
 * `containerStatus` (state, pid), `podSandboxStatus`, `listContainers`, `listPodSandboxes`,
 * `hasImage`, `close()`.
 *
 * @module
 */

export {
  CleanupError,
  Containerd,
  type ContainerdOptions,
  ContainerdStartError,
  CRI_NAMESPACE,
  CtrError,
  DISABLED_PLUGINS,
  processAlive,
  startContainerd,
} from "./containerd.ts";
export {
  type ContainerSpec,
  type ContainerState,
  type ContainerStatusInfo,
  type ContainerSummary,
  CriClient,
  CriError,
  podSandboxConfig,
  type PodSpec,
  type PodSummary,
  type ResourceUpdate,
} from "./cri_client.ts";
export {
  cgroupParentFor,
  COMMANDS,
  type CreatedPod,
  createPod,
  type PodContainer,
  type PodRequest,
  type QosClass,
} from "./pod.ts";
export {
  cgroup2Dir,
  cgroup2Root,
  cgroupDirsOf,
  CgroupError,
  cgroupInode,
  cgroupMounts,
  DEFAULT_CGROUP_PARENT,
  procCgroup2Path,
  removeCgroupTree,
} from "./cgroup.ts";
export { SANDBOX_COMMAND, SANDBOX_IMAGE } from "./sandbox_image.ts";
export { RUNTIME_FILES, RuntimeUnavailableError } from "./runtime_files.ts";
