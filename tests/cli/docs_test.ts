/** README and set-up scripts say what the CLI and the project really do. */
import assert from "@podperf/assert";
import { podperf, ROOT } from "./podperf.ts";
import { buildCli } from "../../main.ts";

const readme = Deno.readTextFileSync(`${ROOT}README.md`);

/** The flags of each command in README's "Commands" synopsis block. */
function synopsis(): Map<string, Set<string>> {
  const section = readme.split("## Commands")[1];
  const block = section.split("```")[1];
  const out = new Map<string, Set<string>>();
  let cmd = "";
  for (const line of block.split("\n")) {
    const m = /^podperf (\w+)/.exec(line);
    if (m) out.set(cmd = m[1], new Set());
    for (const f of line.matchAll(/--[a-z][a-z-]*/g)) out.get(cmd)?.add(f[0]);
  }
  return out;
}

/** The flags `podperf CMD --help` lists, without the global ones. */
async function helpFlags(cmd: string): Promise<Set<string>> {
  const r = await podperf([cmd, "--help"]);
  assert.equal(r.code, 0);
  const body = r.stdout.split("Options:\n")[1].split("\n\n")[0];
  const flags = [...body.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]);
  return new Set(flags.filter((f) => !["--help", "--log-level", "--version"].includes(f)));
}

Deno.test("README's synopsis lists exactly the flags each command's --help lists", async () => {
  const readmeFlags = synopsis();
  // every command the CLI registers, in the CLI's order, and no other
  const commands = buildCli().commands.map((c) => c.name.split(" ")[0]).filter((n) => n);
  assert.deepEqual([...readmeFlags.keys()], commands);
  for (const [cmd, documented] of readmeFlags) {
    const real = await helpFlags(cmd);
    const missing = [...real].filter((f) => !documented.has(f));
    const stale = [...documented].filter((f) => !real.has(f));
    assert.deepEqual({ cmd, missing, stale }, { cmd, missing: [], stale: [] });
  }
  // what the synopsis cannot show is said in words
  assert.match(readme, /a\s+bare\s+number\s+of\s+seconds/);
  assert.match(readme, /without\s+it,\s+until\s+SIGINT\/SIGTERM/);
  assert.match(readme, /`comm`\s+is\s+the\s+kernel's\s+16-byte\s+task\s+name/);
});

Deno.test("set-up is split: running needs setup.sh, testing adds setup_test.sh, CI runs the latter", async () => {
  const setup = Deno.readTextFileSync(`${ROOT}scripts/setup.sh`);
  const test = Deno.readTextFileSync(`${ROOT}scripts/setup_test.sh`);
  // what only tests use stays out of the first command
  for (const testOnly of ["fetch_containerd", "linux-perf"]) {
    assert.ok(!setup.includes(testOnly), `setup.sh mentions ${testOnly}`);
    assert.ok(test.includes(testOnly), `setup_test.sh lacks ${testOnly}`);
  }
  // the test set-up starts with the run set-up, before anything else it installs
  const lines = test.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
  const first = lines.findIndex((l) => /\b(bash|apt-get|npm)\b/.test(l));
  assert.equal(lines[first].trim(), "bash scripts/setup.sh");
  assert.match(Deno.readTextFileSync(`${ROOT}.ci/run`), /bash scripts\/setup_test\.sh/);
  assert.ok(readme.includes("bash scripts/setup.sh && node_modules/deno/deno task collect"));
  assert.ok(readme.includes("bash scripts/setup_test.sh && node_modules/deno/deno task test"));
  for (const script of ["setup.sh", "setup_test.sh"]) {
    const r = await new Deno.Command("bash", { args: ["-n", `${ROOT}scripts/${script}`] }).output();
    assert.ok(r.success, `${script} does not parse`);
  }
});
