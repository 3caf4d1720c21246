/** Typed errors of the sampler; each message is one line a user can act on. */

export { LibbpfMissingError } from "../../ffi/libbpf.ts";

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
