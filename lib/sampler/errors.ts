/** Typed errors of the sampler; each message is one line a user can act on. */

export { LibbpfMissingError } from "../../ffi/libbpf.ts";
import type { PerfEventSpec } from "./perf_event.ts";

/** The kernel exposes no BTF, which CO-RE relocation needs. */
export class BtfMissingError extends Error {
  override name = "BtfMissingError";
  /** `path` is the BTF file that was looked for. */
  constructor(readonly path: string) {
    super(`${path} not found: the kernel needs BTF (CONFIG_DEBUG_INFO_BTF=y, Linux 5.4 or later)`);
  }
}

/** Loading BPF programs and opening perf events needs root (CAP_BPF + CAP_PERFMON). */
export class NotRootError extends Error {
  override name = "NotRootError";
  /** `uid` is the user id the process runs as. */
  constructor(readonly uid: number) {
    super(`podperf collect must run as root (running as uid ${uid})`);
  }
}

/** A libbpf or kernel call failed while opening, loading or attaching the sampler. */
export class BpfLoadError extends Error {
  override name = "BpfLoadError";
  /** Capabilities the process lacks when the call failed with EPERM (else empty). */
  readonly missingCapabilities: string[];
  /** `step` names the failed call, `errno` is the positive error number. */
  constructor(readonly step: string, readonly errno: number, detail = "") {
    const missing = errno === 1 ? missingCapabilities() : [];
    super(
      `${step} failed: errno ${errno}${detail ? ` (${detail})` : ""}${capabilityHint(missing)}`,
    );
    this.missingCapabilities = missing;
  }
}

// linux/capability.h bit numbers of what podperf needs.
const CAP_SYS_ADMIN = 21, CAP_PERFMON = 38, CAP_BPF = 39;

/**
 * The capabilities collect needs that this process's effective set lacks: CAP_BPF (load the
 * programs, maps) and CAP_PERFMON (perf_event programs, per-CPU perf events, reading kernel
 * memory), both Linux 5.8+; CAP_SYS_ADMIN covers both (and is what older kernels need).
 * `capEff` is the hex CapEff of /proc/self/status (read when omitted).
 */
export function missingCapabilities(capEff?: string): string[] {
  let eff: bigint;
  try {
    capEff ??= /^CapEff:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    if (capEff === undefined) return [];
    eff = BigInt(`0x${capEff}`);
  } catch {
    return [];
  }
  const has = (bit: number) => (eff >> BigInt(bit) & 1n) === 1n;
  if (has(CAP_SYS_ADMIN)) return [];
  return [[CAP_BPF, "CAP_BPF"], [CAP_PERFMON, "CAP_PERFMON"]].filter(([b]) => !has(b as number))
    .map(([, n]) => n as string);
}

function capabilityHint(missing: string[]): string {
  return missing.length
    ? `: missing ${missing.join(" and ")} (collect needs CAP_BPF and CAP_PERFMON; ` +
      "kernels before 5.8: CAP_SYS_ADMIN)"
    : "";
}

/** An option passed to Sampler.open is out of range. */
export class SamplerOptionError extends Error {
  override name = "SamplerOptionError";
  /** `option` is the offending option name, `value` what was passed. */
  constructor(readonly option: string, readonly value: unknown, reason: string) {
    super(`invalid sampler option ${option}=${String(value)}: ${reason}`);
  }
}

/** perf_event_open failed; `errno` says why (ENOENT for a missing hardware PMU). */
export class PerfEventOpenError extends Error {
  override name = "PerfEventOpenError";
  /** `cpu` the event was opened on, `errno` the positive error number. */
  constructor(readonly spec: PerfEventSpec, readonly cpu: number, readonly errno: number) {
    super(
      `perf_event_open(type ${spec.type}, config ${spec.config}, cpu ${cpu}): ${errnoName(errno)}${
        capabilityHint(errno === 1 || errno === 13 ? missingCapabilities() : [])
      }`,
    );
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  95: "EOPNOTSUPP",
};

/** "ENOENT" for 2, and so on; the number when the name is not known. */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/** mmap of a ring buffer map failed. */
export class RingMmapError extends Error {
  override name = "RingMmapError";
  /** `what` names the mapping, `errno` is the positive error number. */
  constructor(readonly what: string, readonly errno: number) {
    super(`mmap of the ring buffer ${what} failed: errno ${errno}`);
  }
}
