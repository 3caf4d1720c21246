/**
 * What the in-guest half of the node tier writes to `guest.json` (tests/node/guest/run.ts)
 * and the host-side test reads back (tests/node/vm_tier.ts): one definition for both.
 */

/** One container of a pod the guest created, as the host reads its rows back. */
export interface GuestContainer {
  name: string;
  id: string;
  busy: boolean;
  pid: number;
  cgroupPath: string;
  cgroupId: string;
}

/** One pod the guest created through CRI with a systemd-driver cgroup parent. */
export interface GuestPod {
  name: string;
  namespace: string;
  uid: string;
  qos: "burstable" | "besteffort";
  cgroupParent: string;
  createdAfterStart: boolean;
  podId: string;
  containers: GuestContainer[];
}

/** One `podperf collect` run in the guest. */
export interface RunOutcome {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string[];
  files: string[];
  error?: string;
}

/** Facts about the guest the host asserts on (kernel, cgroup layout, init). */
export interface GuestFacts extends Record<string, unknown> {
  procSelfCgroup: string;
  pid1: string;
  kernel: string;
  version: string;
  cgroupMountType: string;
  btf: boolean;
  cmdline: string;
}

/** The whole report; a step that did not run leaves its field out. */
export interface GuestReport {
  facts: GuestFacts;
  /** ms since the guest test started, per step */
  timings: Record<string, number>;
  pods?: GuestPod[];
  nri?: RunOutcome;
  fallback?: RunOutcome;
  /** `output`: stdout then stderr; `stdout`: the JSON document alone (log lines go to stderr) */
  podsCommand?: { code: number; output: string; stdout: string };
  accuracy?: { cgroupPath: string; cgroupId: string; usageUsec: number; cpuStat?: string };
  error?: string;
}
