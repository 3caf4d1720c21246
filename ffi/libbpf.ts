/** The one table of libbpf (1.x) symbols podperf calls through Deno FFI. */

import { libbpfCandidates } from "./arch.ts";

const SYMBOLS = {
  libbpf_major_version: { parameters: [], result: "u32" },
  libbpf_minor_version: { parameters: [], result: "u32" },
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },
  libbpf_get_error: { parameters: ["pointer"], result: "i64" },
  bpf_object__open_mem: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_object__find_program_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_map__fd: { parameters: ["pointer"], result: "i32" },
  bpf_map__set_max_entries: { parameters: ["pointer", "u32"], result: "i32" },
  bpf_map__value_size: { parameters: ["pointer"], result: "u32" },
  bpf_map__initial_value: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_program__fd: { parameters: ["pointer"], result: "i32" },
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
  bpf_program__attach_perf_event: { parameters: ["pointer", "i32"], result: "pointer" },
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
  bpf_map_lookup_elem: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_map_update_elem: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i32" },
  bpf_obj_get_info_by_fd: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_enable_stats: { parameters: ["i32"], result: "i32" },
  bpf_prog_test_run_opts: { parameters: ["i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libbpf symbols. */
export type Libbpf = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * Opens libbpf once per process; `PODPERF_LIBBPF` names an exact file instead of the search.
 * Throws LibbpfMissingError when no candidate opens.
 */
export function libbpf(): Libbpf {
  if (lib) return lib.symbols;
  const override = Deno.env.get("PODPERF_LIBBPF");
  // By soname first (the system loader's search path), then where distributions put it.
  const tried = override ? [override] : libbpfCandidates();
  const reasons: string[] = [];
  for (const path of tried) {
    try {
      lib = Deno.dlopen(path, SYMBOLS);
      return lib.symbols;
    } catch (e) {
      reasons.push(`${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new LibbpfMissingError(tried, reasons);
}

/** libbpf.so.1 could not be opened from any candidate path. */
export class LibbpfMissingError extends Error {
  override name = "LibbpfMissingError";
  /** `tried` are the paths attempted, `reasons` the loader's message for each. */
  constructor(readonly tried: string[], readonly reasons: string[]) {
    super("libbpf.so.1 not found: install libbpf1 (Debian/Ubuntu) or libbpf (Fedora)");
  }
}

/** Constants from libbpf/kernel headers used with the symbols above. */
export const BPF = {
  BPF_ANY: 0n,
  BPF_STATS_RUN_TIME: 0,
  /** sizeof(struct bpf_object_open_opts) in libbpf 1.1 and offsets of the fields we set. */
  OPEN_OPTS_SIZE: 80,
  OPEN_OPTS_OBJECT_NAME: 8,
  OPEN_OPTS_BTF_CUSTOM_PATH: 48,
  /** struct bpf_prog_info (kernel 5.12+): size and offsets of the fields we read. */
  PROG_INFO_SIZE: 232,
  PROG_INFO_NAME: 64,
  PROG_INFO_RUN_TIME_NS: 192,
  PROG_INFO_RUN_CNT: 200,
  PROG_INFO_RECURSION_MISSES: 208,
  /**
   * struct bpf_test_run_opts (libbpf 1.x, with batch_size: 80 bytes; libbpf takes a larger sz
   * whose extra bytes are zero) and the offsets of the fields we set.
   */
  TEST_RUN_OPTS_SIZE: 80,
  TEST_RUN_OPTS_FLAGS: 68,
  TEST_RUN_OPTS_CPU: 72,
  /** Runs a raw_tp program on the CPU in opts.cpu (kernel 5.10+). */
  BPF_F_TEST_RUN_ON_CPU: 1,
} as const;
