/**
 * The one table of what differs between the CPU architectures podperf supports: the syscall
 * numbers it calls by number, the BPF target define of bpf_tracing.h, and where
 * distributions put libbpf. Everything else podperf uses (struct layouts of libbpf's and the
 * kernel's uapi, libc constants) is the same on every LP64 Linux.
 *
 * Scripts read it too: `deno run ffi/arch.ts ARCH FIELD` prints one field (see build_bpf.sh).
 */

/** Architecture names as Kubernetes (`kubernetes.io/arch`) and Docker (`TARGETARCH`) spell them. */
export type ArchName = "amd64" | "arm64";

/** What podperf needs to know about one architecture. */
export interface ArchInfo {
  /** `Deno.build.arch` on this architecture. */
  denoArch: typeof Deno.build.arch;
  /** `uname -m`. */
  machine: string;
  /** perf_event_open(2), which libc does not wrap (asm/unistd_64.h; asm-generic for arm64). */
  sysPerfEventOpen: number;
  /** The define that selects pt_regs access in libbpf's bpf_tracing.h (clang -D…). */
  bpfTargetDefine: string;
  /** Debian/Ubuntu multiarch directory, where libbpf.so.1 lives. */
  multiarch: string;
  /** `deno compile --target` for a binary of this architecture (Dockerfile). */
  denoTarget: string;
}

/** The supported architectures. */
export const ARCHES: Readonly<Record<ArchName, ArchInfo>> = {
  amd64: {
    denoArch: "x86_64",
    machine: "x86_64",
    sysPerfEventOpen: 298,
    bpfTargetDefine: "__TARGET_ARCH_x86",
    multiarch: "x86_64-linux-gnu",
    denoTarget: "x86_64-unknown-linux-gnu",
  },
  arm64: {
    denoArch: "aarch64",
    machine: "aarch64",
    sysPerfEventOpen: 241,
    bpfTargetDefine: "__TARGET_ARCH_arm64",
    multiarch: "aarch64-linux-gnu",
    denoTarget: "aarch64-unknown-linux-gnu",
  },
};

/** podperf runs on an architecture the table does not list. */
export class UnsupportedArchError extends Error {
  override name = "UnsupportedArchError";
  /** `arch` is what was asked for (Deno.build.arch, uname -m or a Kubernetes name). */
  constructor(readonly arch: string) {
    super(`architecture ${arch} is not supported (supported: ${Object.keys(ARCHES).join(", ")})`);
  }
}

/** The entry for a Kubernetes name, `uname -m` or `Deno.build.arch`. */
export function archInfo(arch: string): ArchInfo & { name: ArchName } {
  for (const [name, info] of Object.entries(ARCHES) as [ArchName, ArchInfo][]) {
    if (arch === name || arch === info.machine || arch === info.denoArch) return { name, ...info };
  }
  throw new UnsupportedArchError(arch);
}

/** The entry of the running process's architecture. */
export function hostArch(): ArchInfo & { name: ArchName } {
  return archInfo(Deno.build.arch);
}

/** Where distributions put libbpf.so.1 on this architecture, after the plain soname. */
export function libbpfCandidates(info: ArchInfo = hostArch()): string[] {
  return [
    "libbpf.so.1",
    `/usr/lib/${info.multiarch}/libbpf.so.1`,
    `/lib/${info.multiarch}/libbpf.so.1`,
    "/usr/lib64/libbpf.so.1",
    "/usr/lib/libbpf.so.1",
  ];
}

if (import.meta.main) {
  const [arch, field] = Deno.args;
  try {
    const info = archInfo(arch ?? "") as unknown as Record<string, unknown>;
    if (!(field in info)) {
      throw new Error(`unknown field ${field} (${Object.keys(info).join(", ")})`);
    }
    console.log(String(info[field]));
  } catch (e) {
    console.error(`arch: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
