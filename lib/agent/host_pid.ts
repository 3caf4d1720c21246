/**
 * The agent's frame: it must run in the host's pid namespace. The BPF programs see host pids
 * and leave out the collector's own by pid; in a pod without `hostPID: true` the pid the agent
 * knows itself by is not the one the kernel reports, so it would sample itself and every pid
 * in its rows would be meaningless to the node.
 */

/** Inode of the initial pid namespace: a kernel constant (PROC_PID_INIT_INO). */
export const INIT_PID_NS_INO = 0xEFFFFFFC;

/** collect runs outside the host's pid namespace. */
export class HostPidError extends Error {
  override name = "HostPidError";
  constructor(readonly namespace: string) {
    super(
      `podperf collect must run in the host's pid namespace (hostPID: true in the pod spec); ` +
        `this process is in ${namespace}, so it would sample itself and record pids the node ` +
        `cannot see`,
    );
  }
}

/**
 * Throws HostPidError when this process is not in the initial pid namespace. A host without
 * /proc/self/ns (no procfs) passes: the sampler's own checks fail there anyway.
 */
export function assertHostPidNamespace(link = "/proc/self/ns/pid"): void {
  let ns: string;
  try {
    ns = Deno.readLinkSync(link);
  } catch {
    return;
  }
  if (ns !== `pid:[${INIT_PID_NS_INO}]`) throw new HostPidError(ns);
}
