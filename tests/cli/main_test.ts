/** The CLI as a user runs it: help, usage errors, and one-line failures with exit codes. */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function podperf(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--help lists the three commands and --log-level", async () => {
  const r = await podperf(["--help"]);
  assert.equal(r.code, 0);
  for (const word of ["collect", "summary", "pods", "--log-level"]) {
    assert.ok(r.stdout.includes(word), `help lacks ${word}:\n${r.stdout}`);
  }
});

Deno.test("collect --help documents its flags", async () => {
  const r = await podperf(["collect", "--help"]);
  assert.equal(r.code, 0);
  for (const flag of ["--duration", "--output", "--interval", "--counters", "--nri-socket"]) {
    assert.ok(r.stdout.includes(flag), `collect help lacks ${flag}`);
  }
});

Deno.test("a bad flag value is one line and exit 2", async () => {
  const r = await podperf(["collect", "--duration", "soon"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'podperf: error: --duration: "soon" is not a duration (examples: 1ms, 10s, 5m)\n',
  );
});

Deno.test("an unknown command is one line and exit 2", async () => {
  const r = await podperf(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'podperf: error: unknown command "frobnicate" (see podperf --help)\n');
});

Deno.test("collect without libbpf fails with one line naming the package", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await podperf(["collect", "--duration", "1s", "--output", out], {
      PODPERF_LIBBPF: "/nonexistent/libbpf.so.1",
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "podperf: error: libbpf.so.1 not found: install libbpf1 (Debian/Ubuntu) or libbpf (Fedora)\n",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("summary of a file that is not Parquet names the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/x.parquet`, "not parquet");
    const r = await podperf(["summary", `${dir}/x.parquet`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^podperf: error: .*${dir}/x\\.parquet`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flag values the sampler would refuse are usage errors (exit 2) before it starts", async () => {
  const cases: [string[], string][] = [
    [["--counters", "cycles,bogus"], "--counters: unknown bogus (known: cycles, instructions, "],
    [["--interval", "1us"], "--interval must be between 100us and 10s"],
    [["--interval", "50us"], "--interval must be between 100us and 10s"],
    [["--top", "x"], '--top: "x" is not a whole number'],
    [["--nri-index", "5"], '--nri-index must be two digits, got "5"'],
    [["--rotate-size", "0"], "--rotate-size must be above 0"],
  ];
  for (const [args, message] of cases) {
    const r = await podperf(["collect", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`podperf: error: ${message}`), r.stderr);
    assert.equal(r.stderr.split("\n").length, 2, r.stderr);
  }
});
