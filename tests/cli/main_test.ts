/** The CLI as a user runs it: help, usage errors, and one-line failures with exit codes. */
import assert from "@podperf/assert";
import { podperf } from "./podperf.ts";

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

Deno.test("a mistyped command gets the nearest command as a suggestion", async () => {
  const r = await podperf(["colect", "--duration", "1s"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'podperf: error: unknown command "colect" (did you mean "collect"?) (see podperf --help)\n',
  );
  const s = await podperf(["sumary"]);
  assert.match(s.stderr, /did you mean "summary"\?/);
});

Deno.test("a mistyped flag gets the nearest flag of its command", async () => {
  const r = await podperf(["collect", "--duraton", "5s"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "podperf: error: unknown option --duraton (did you mean --duration?) " +
      "(see podperf collect --help)\n",
  );
});

Deno.test("a bad --log-level is a usage error: one line, exit 2", async () => {
  for (const args of [["--log-level", "loud", "pods"], ["collect", "--log-level", "trace"]]) {
    const r = await podperf(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^podperf: error: --log-level: "(loud|trace)" is not one of debug, info, warn, error\n$/,
    );
  }
});

Deno.test("--output naming a file says it exists and is not a directory", async () => {
  const r = await podperf(["collect", "--duration", "1s", "--output", "/etc/passwd"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "podperf: error: --output: /etc/passwd exists and is not a directory\n");
  const under = await podperf(["collect", "--duration", "1s", "--output", "/etc/passwd/x/y"]);
  assert.equal(under.code, 2);
  assert.equal(
    under.stderr,
    "podperf: error: --output: /etc/passwd/x/y cannot be created: /etc/passwd exists and is " +
      "not a directory\n",
  );
});

Deno.test("a negative number reaches the flag's own check instead of cac's unknown option", async () => {
  for (const args of [["collect"], ["summary", "x.parquet"]]) {
    const r = await podperf([...args, "--top", "-1"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, 'podperf: error: --top: "-1" is not a whole number ≥ 0\n');
  }
});

/** Every option line of `podperf [cmd] --help`. */
async function optionLines(cmd: string[]): Promise<string[]> {
  const r = await podperf([...cmd, "--help"]);
  assert.equal(r.code, 0);
  const body = r.stdout.split("Options:\n")[1]?.split("\n\n")[0] ?? "";
  return body.split("\n").filter((l) => l.trim().startsWith("-"));
}

Deno.test("help prints defaults in one format and none for --no-… switches", async () => {
  for (const cmd of [[], ["collect"], ["summary"], ["pods"]]) {
    const lines = await optionLines(cmd);
    assert.ok(lines.length > 2, `${cmd}: ${lines}`);
    for (const l of lines) {
      assert.equal(l, l.trimEnd(), `trailing space: "${l}"`);
      assert.doesNotMatch(l, /\(default: (true|false)\)/, l);
      const defaults = l.match(/default/gi) ?? [];
      assert.ok(defaults.length <= 1, `one default per line: ${l}`);
      if (defaults.length) assert.match(l, /\(default: [^()]+\)$/, `default format: ${l}`);
      if (/^\s+--no-/.test(l)) assert.doesNotMatch(l, /default/, l);
    }
  }
  const collect = await optionLines(["collect"]);
  const state = collect.find((l) => l.includes("--containerd-state"))!;
  assert.match(state, /\(default: \/run\/containerd\)$/);
  const duration = collect.find((l) => l.includes("--duration"))!;
  assert.match(duration, /bare number of seconds \(default: until SIGINT\/SIGTERM\)$/);
});
