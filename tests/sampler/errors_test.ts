import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();
const fixture = `${root}tests/sampler/fixtures/open_sampler.ts`;

async function run(
  env: Record<string, string>,
  prefix: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [...prefix, deno, "run", "-A", "--config", `${root}deno.json`, fixture];
  const out = await new Deno.Command(args[0], { args: args.slice(1), env, cwd: root }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
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
  // nobody needs its own writable Deno cache; the sources and deno binary are world-readable.
  const denoDir = await Deno.makeTempDir();
  try {
    await Deno.chmod(denoDir, 0o777);
    const r = await run(
      { DENO_DIR: denoDir, HOME: denoDir },
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "podperf collect must run as root (running as uid 65534)\n");
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
