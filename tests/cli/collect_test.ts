/**
 * `podperf collect` run as a user runs it, checked on its printed summary: one line per process
 * whatever its threads are called, cgroup paths, podperf's own process left out, and one JSON
 * document.
 */
import assert from "@podperf/assert";
import { detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import { podperf, ROOT } from "./podperf.ts";

interface Group {
  pid: number | null;
  comm: string | null;
  cgroup_id: string | null;
  cgroup_path: string | null;
  pod_name: string | null;
  container_name: string | null;
  cpu_ns: number;
}

/** A two-thread busy process inside a fresh `<slice>/<unit>.service` cgroup. */
function busyService(tag: string) {
  const root = detectCgroup2Mount()!;
  const rel = `/podperf-cli-${tag}.slice/busy-${tag}.service`;
  Deno.mkdirSync(root + rel, { recursive: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/cli/fixtures/busy_threads.ts`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  Deno.writeTextFileSync(`${root}${rel}/cgroup.procs`, String(child.pid));
  return {
    pid: child.pid,
    rel,
    ino: String(Deno.statSync(root + rel).ino),
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      for (const d of [root + rel, root + rel.slice(0, rel.lastIndexOf("/"))]) {
        for (let i = 0; i < 50; i++) {
          try {
            Deno.removeSync(d);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100)); // the killed process is still leaving
          }
        }
      }
    },
  };
}

Deno.test("collect's summary: one line per process, cgroup paths, podperf itself left out", async () => {
  const tag = crypto.randomUUID().slice(0, 8);
  const busy = busyService(tag);
  const out = await Deno.makeTempDir();
  try {
    // let both threads get going so each thread name has samples
    await new Promise((r) => setTimeout(r, 500));
    const r = await podperf([
      "collect",
      "--duration",
      "3",
      "--output",
      out,
      "--no-nri",
      "--by",
      "process",
      "--json",
      "--log-level",
      "warn",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc).slice(0, 5), [
      "by",
      "window",
      "cpus",
      "counters",
      "coverage",
    ]);
    assert.match(doc.window.from, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const span = (Date.parse(doc.window.to) - Date.parse(doc.window.from)) / 1000;
    assert.ok(doc.window.seconds > 0 && Math.abs(doc.window.seconds - span) < 0.002, String(span));
    assert.equal(doc.files.length, 1);
    const groups = doc.groups as Group[];
    const pids = groups.map((g) => g.pid);
    assert.equal(new Set(pids).size, pids.length, "one line per process");
    const mine = groups.filter((g) => g.pid === busy.pid);
    assert.equal(mine.length, 1);
    assert.ok(["deno", "worker-1"].includes(mine[0].comm!), mine[0].comm!);
    assert.ok(mine[0].cpu_ns > 0, String(mine[0].cpu_ns));
    assert.equal(mine[0].cgroup_id, busy.ino);
    assert.equal(mine[0].cgroup_path, busy.rel);
    assert.equal(mine[0].pod_name, null);
    // Whether rows carry the unit depends on the collector's first cgroup walk finishing
    // during the run (it runs in the background; seconds on a loaded machine): when they do,
    // it is the unit. tests/metadata/host_unit_test.ts and summary_test.ts check the naming.
    if (mine[0].container_name !== null) {
      assert.equal(mine[0].container_name, `busy-${tag}.service`);
    }
    // podperf's own process is left out (the sampler excludes its pid), under any name
    assert.deepEqual(groups.filter((g) => g.pid === r.pid), []);

    // collect's own table by cgroup shows the path next to the inode
    const text = await podperf([
      "collect",
      "--duration",
      "1",
      "--output",
      out,
      "--no-nri",
      "--by",
      "cgroup",
      "--top",
      "0",
      "--log-level",
      "warn",
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^\\s*${busy.ino}\\s+${busy.rel.replaceAll(".", "\\.")}\\s`, "m"),
    );
  } finally {
    await busy.stop();
    await Deno.remove(out, { recursive: true });
  }
});
