/**
 * The architecture table (ffi/arch.ts) against the kernel headers it transcribes, and the BPF
 * object built for arm64 with clang's BPF target (it cannot run here). Its programs must be
 * the very bytes of the amd64 build: then nothing in them depends on the architecture (no
 * pt_regs), and the x86 vmlinux.h used for both is only a source of CO-RE-relocated types.
 */
import assert from "@podperf/assert";
import { ARCHES, archInfo, UnsupportedArchError } from "../../ffi/arch.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PROGRAM_SECTIONS = ["perf_event", "tp_btf/sched_switch"];

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(cmd, { args, env, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  const out = dec.decode(r.stdout) + dec.decode(r.stderr);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")}: ${out}`);
  return dec.decode(r.stdout);
}

async function buildFor(arch: string, dir: string): Promise<string> {
  const obj = `${dir}/podperf-${arch}.bpf.o`;
  await run("bash", ["scripts/build_bpf.sh"], { PODPERF_ARCH: arch, PODPERF_BPF_OBJ: obj });
  return obj;
}

async function section(obj: string, name: string, dir: string): Promise<Uint8Array> {
  const out = `${dir}/${name.replaceAll("/", "_")}-${obj.split("/").pop()}.bin`;
  await run("llvm-objcopy", [`--dump-section=${name}=${out}`, obj, `${dir}/scratch.o`]);
  return await Deno.readFile(out);
}

Deno.test("arch table: syscall numbers and BPF defines are the kernel headers' and libbpf's", async () => {
  const generic = await Deno.readTextFile("/usr/include/asm-generic/unistd.h");
  const x86 = await Deno.readTextFile("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");
  const nr = (text: string) => Number(/#define __NR_perf_event_open (\d+)/.exec(text)?.[1]);
  assert.equal(ARCHES.amd64.sysPerfEventOpen, nr(x86));
  assert.equal(ARCHES.arm64.sysPerfEventOpen, nr(generic)); // arm64 uses the generic table
  const tracing = await Deno.readTextFile("/usr/include/bpf/bpf_tracing.h");
  for (const a of Object.values(ARCHES)) {
    assert.match(tracing, new RegExp(`defined\\(${a.bpfTargetDefine}\\)`), a.bpfTargetDefine);
  }
  assert.equal(archInfo("aarch64").name, "arm64");
  assert.equal(archInfo("x86_64").name, "amd64");
  assert.throws(() => archInfo("riscv64"), UnsupportedArchError);
  const printed = await run("node_modules/deno/deno", [
    "run",
    "--quiet",
    "--no-config",
    "ffi/arch.ts",
    "arm64",
    "bpfTargetDefine",
  ]);
  assert.equal(printed.trim(), "__TARGET_ARCH_arm64");
});

Deno.test("arm64: the BPF object builds with the arm64 define and its programs match amd64's byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "podperf-arch-" });
  try {
    const amd64 = await buildFor("amd64", dir);
    const arm64 = await buildFor("arm64", dir);
    for (const obj of [amd64, arm64]) {
      const h = (await Deno.readFile(obj)).subarray(0, 20);
      assert.deepEqual([...h.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "ELF magic");
      assert.equal(h[4], 2, "ELFCLASS64");
      assert.equal(h[5], 1, "little-endian (bpfel), like both architectures");
      assert.equal(new DataView(h.buffer, h.byteOffset).getUint16(18, true), 247, "EM_BPF");
      const sections = await run("llvm-readelf", ["-S", obj]);
      for (const s of [...PROGRAM_SECTIONS, ".BTF", ".BTF.ext"]) {
        assert.ok(sections.includes(` ${s} `), `${obj}: section ${s}`);
      }
    }
    for (const s of PROGRAM_SECTIONS) {
      const [a, b] = [await section(amd64, s, dir), await section(arm64, s, dir)];
      assert.ok(a.length > 0, s);
      assert.deepEqual(
        b,
        a,
        `${s} differs between amd64 and arm64: the program now depends on ` +
          "the architecture (pt_regs?) and the arm64 build needs an arm64 vmlinux.h",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
