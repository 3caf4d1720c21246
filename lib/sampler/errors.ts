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
  /** `step` names the failed call, `errno` is the positive error number. */
  constructor(readonly step: string, readonly errno: number, detail = "") {
    super(`${step} failed: errno ${errno}${detail ? ` (${detail})` : ""}`);
  }
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
      `perf_event_open(type ${spec.type}, config ${spec.config}, cpu ${cpu}): ${errnoName(errno)}`,
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
