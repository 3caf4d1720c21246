/**
 * Host services named from their cgroup path: rows outside pods get the systemd unit they run
 * in (`kubelet.service`, `containerd.service`, `session-3.scope`) as their `container_name`, so
 * a summary by pod shows the node's own services instead of one "(no pod)" group.
 */
import type { PodMeta } from "./store.ts";

// A systemd unit that holds processes: services and scopes (slices only hold other units).
const UNIT = /^[A-Za-z0-9:_.\\@-]+\.(service|scope)$/;

/**
 * The systemd unit a cgroup path (relative to the cgroup2 mount) belongs to: its innermost
 * `.service` or `.scope` directory, or null when the path has none. Sub-cgroups a service made
 * for itself (`/system.slice/containerd.service/x`) belong to the service.
 *
 * @example
 * parseHostUnit("/system.slice/kubelet.service"); // "kubelet.service"
 * parseHostUnit("/user.slice/user-0.slice/session-3.scope"); // "session-3.scope"
 * parseHostUnit("/kubepods/burstable"); // null
 */
export function parseHostUnit(path: string): string | null {
  const segs = path.split("/").filter((s) => s !== "");
  for (let i = segs.length - 1; i >= 0; i--) {
    if (UNIT.test(segs[i])) return segs[i];
  }
  return null;
}

/** The metadata of a host unit: only `containerName` set, found from the cgroup path. */
export function hostUnitMeta(unit: string): PodMeta {
  return {
    podName: null,
    podNamespace: null,
    podUid: null,
    containerName: unit,
    containerId: null,
    image: null,
    source: "cgroup-path",
  };
}

/**
 * True for the metadata of a host unit (a name but no pod and no container id), in a PodMeta or
 * in a row read back from Parquet.
 */
export function isHostUnitMeta(
  m: Pick<PodMeta, "podName" | "podUid" | "containerId" | "containerName">,
): boolean {
  return m.podName === null && m.podUid === null && m.containerId === null &&
    m.containerName !== null;
}
