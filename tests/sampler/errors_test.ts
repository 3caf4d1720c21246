import assert from "@podperf/assert";

const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();

async function run(
  env: Record<string, string>,
  prefix: string[] = [],
  base = { deno, root },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    ...prefix,
    base.deno,
    "run",
    "-A",
    "--config",
    `${base.root}deno.json`,
    `${base.root}tests/sampler/fixtures/open_sampler.ts`,
  ];
  const out = await new Deno.Command(args[0], { args: args.slice(1), env, cwd: base.root })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * A copy of what the fixture needs (deno.json, lib/, ffi/, the BPF object, the fixture, and the
 * deno binary, hard-linked when it can be) in a world-readable temp dir: the checkout may sit
 * under a directory other users cannot enter (a clone under `mktemp -d`, mode 0700).
 */
async function worldReadableCopy(): Promise<{ dir: string; deno: string; root: string }> {
  const dir = await Deno.makeTempDir({ prefix: "podperf-nonroot-" });
  const copy = async (...args: string[]) => {
    const r = await new Deno.Command("cp", { args, cwd: root }).output();
    if (!r.success) throw new Error(`cp ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  };
  for (const d of ["bin", "bpf", "tests/sampler/fixtures"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await copy("-r", "deno.json", "lib", "ffi", `${dir}/`);
  await copy("bpf/podperf.bpf.o", `${dir}/bpf/`);
  await copy("tests/sampler/fixtures/open_sampler.ts", `${dir}/tests/sampler/fixtures/`);
  try {
    await Deno.link(deno, `${dir}/bin/deno`);
  } catch {
    await Deno.copyFile(deno, `${dir}/bin/deno`); // another filesystem
  }
  const chmod = await new Deno.Command("chmod", { args: ["-R", "a+rX", dir] }).output();
  if (!chmod.success) throw new Error(`chmod -R a+rX ${dir} failed`);
  return { dir, deno: `${dir}/bin/deno`, root: `${dir}/` };
}

Deno.test("the sampler opens and closes when everything is present", async () => {
  const r = await run({});
  assert.equal(r.stdout.trim(), "ok", r.stderr);
  assert.equal(r.code, 0);
});

Deno.test("a missing libbpf gives one clear line and exit 1", async () => {
  const r = await run({ PODPERF_LIBBPF: "/nonexistent/libbpf.so.1" });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "libbpf.so.1 not found: install libbpf1 (Debian/Ubuntu) or libbpf (Fedora)\n",
  );
});

Deno.test("missing kernel BTF gives one clear line and exit 1", async () => {
  const r = await run({ PODPERF_BTF: "/nonexistent/vmlinux" });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "/nonexistent/vmlinux not found: the kernel needs BTF (CONFIG_DEBUG_INFO_BTF=y, Linux 5.4 or later)\n",
  );
});

Deno.test("running as non-root gives one clear line and exit 1", async () => {
  // nobody needs its own writable Deno cache and a copy of the sources it can read, wherever
  // the checkout is.
  const denoDir = await Deno.makeTempDir();
  const copy = await worldReadableCopy();
  try {
    await Deno.chmod(denoDir, 0o777);
    const r = await run(
      { DENO_DIR: denoDir, HOME: denoDir },
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      copy,
    );
    assert.equal(r.stderr, "podperf collect must run as root (running as uid 65534)\n");
    assert.equal(r.code, 1);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(copy.dir, { recursive: true });
  }
});
