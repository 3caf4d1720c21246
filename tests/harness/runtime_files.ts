/** Where scripts/fetch_containerd.sh puts containerd, runc, busybox and the CRI proto. */

import { existsSync } from "node:fs";

/** The repository root (two levels above this file). */
export const REPO_ROOT: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The gitignored cache folder shared by all harness users. */
export const CACHE_DIR = `${REPO_ROOT}/.cache`;
/** The folder the Debian packages are extracted into. */
export const RUNTIME_ROOT = `${CACHE_DIR}/containerd`;

/** Absolute paths of the runtime binaries and files the harness uses. */
export const RUNTIME_FILES = {
  containerd: `${RUNTIME_ROOT}/usr/bin/containerd`,
  ctr: `${RUNTIME_ROOT}/usr/bin/ctr`,
  shim: `${RUNTIME_ROOT}/usr/bin/containerd-shim-runc-v2`,
  runc: `${RUNTIME_ROOT}/usr/sbin/runc`,
  busybox: `${RUNTIME_ROOT}/bin/busybox`,
  criProto: `${RUNTIME_ROOT}/proto/runtime/v1/api.proto`,
  /** Folders containerd needs on PATH to find the shim (and the shim to find runc). */
  binDirs: [`${RUNTIME_ROOT}/usr/bin`, `${RUNTIME_ROOT}/usr/sbin`],
} as const;

/** Thrown when the runtime cannot be fetched or does not run here. */
export class RuntimeUnavailableError extends Error {
  /** Carries the fetch script's exit code and output tail. */
  constructor(readonly exitCode: number | null, readonly output: string) {
    super(
      `containerd test runtime unavailable: bash scripts/fetch_containerd.sh ` +
        `exited ${exitCode}; it needs root and Debian's mirror. Output:\n${output}`,
    );
    this.name = "RuntimeUnavailableError";
  }
}

let fetched = false;

/** Runs scripts/fetch_containerd.sh once per process if any runtime file is missing. */
export async function ensureRuntimeFetched(): Promise<void> {
  if (fetched) return;
  const all = [
    RUNTIME_FILES.containerd,
    RUNTIME_FILES.ctr,
    RUNTIME_FILES.shim,
    RUNTIME_FILES.runc,
    RUNTIME_FILES.busybox,
    RUNTIME_FILES.criProto,
  ];
  if (!all.every((p) => existsSync(p))) {
    const out = await new Deno.Command("bash", {
      args: [`${REPO_ROOT}/scripts/fetch_containerd.sh`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success || !all.every((p) => existsSync(p))) {
      throw new RuntimeUnavailableError(out.code, text.slice(-4000));
    }
  }
  fetched = true;
}
