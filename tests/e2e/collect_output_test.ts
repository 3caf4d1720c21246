/**
 * `podperf collect` against output directories that fail: read-only (refused at start, exit 1)
 * and full at the final close (exit 3, summary still printed).
 */
import assert from "@podperf/assert";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import { type PodperfExit, PodperfProcess } from "./podperf_process.ts";

async function tmpfs(options: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "podperf-e2e-out-" });
  const m = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", options, "tmpfs", dir] })
    .output();
  assert.equal(m.code, 0, new TextDecoder().decode(m.stderr));
  return dir;
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir] }).output();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

Deno.test("collect refuses a read-only output directory at start: one line, exit 1", async () => {
  const out = await tmpfs("ro,size=1m");
  const p = PodperfProcess.collect(["--output", out, "--no-nri", "--duration", "20s"]);
  try {
    const t = performance.now();
    const exit = await p.exited();
    const stderr = exit.lines.map((l) => l.raw).join("\n");
    assert.equal(exit.code, 1, stderr);
    assert.ok(performance.now() - t < 15_000, "refused at start, not after the duration");
    const errors = exit.lines.filter((l) => l.raw.startsWith("podperf: error:"));
    assert.equal(errors.length, 1, stderr);
    assert.match(errors[0].raw, /output directory .* is not writable/);
    assert.equal(p.logged("collecting").length, 0, "nothing was collected");
  } finally {
    await p.dispose();
    await unmount(out);
  }
});

Deno.test("collect with the disk full at the final close exits 3 and still prints the summary", async () => {
  // one page: room for the lock and the temporary file's header, not for any row group, however
  // few rows an idle machine makes
  const out = await tmpfs("size=4k");
  const p = PodperfProcess.collect(["--output", out, "--no-nri", "--duration", "2s", "--top", "3"]);
  try {
    const exit = await p.exited();
    const stderr = exit.lines.map((l) => l.raw).join("\n");
    assert.equal(exit.code, 3, stderr);
    assert.match(exit.stdout, /records, 0 rows in 0 file\(s\)/, exit.stdout);
    const done = exit.lines.find((l) => l.msg === "collection finished");
    assert.ok(done, stderr);
    assert.ok((done.fields.rowsLost as number) > 0, done.raw);
    assert.ok(exit.lines.some((l) => /no space left on device/.test(l.raw)), stderr);
  } finally {
    await p.dispose();
    await unmount(out);
  }
});

function sumRows(exit: PodperfExit): number {
  const done = exit.lines.find((l) => l.msg === "collection finished");
  assert.ok(done, exit.lines.map((l) => l.raw).join("\n"));
  return done.fields.rows as number;
}

Deno.test("two collectors overlapping on one directory both keep every row under their own names", async () => {
  const out = await Deno.makeTempDir({ prefix: "podperf-e2e-overlap-" });
  const args = ["--output", out, "--no-nri", "--node", "n1", "--rotate-age", "700ms"];
  const first = PodperfProcess.collect([...args, "--duration", "4s"]);
  let second: PodperfProcess | undefined;
  try {
    await first.waitFor("parquet file complete");
    // a rolling update: the new collector starts while the old one still writes
    second = PodperfProcess.collect([...args, "--duration", "3s"]);
    const [a, b] = await Promise.all([first.exited(), second.exited()]);
    assert.equal(a.code, 0, a.lines.map((l) => l.raw).join("\n"));
    assert.equal(b.code, 0, b.lines.map((l) => l.raw).join("\n"));
    const names = [...Deno.readDirSync(out)].map((e) => e.name);
    assert.deepEqual(names.filter((n) => !n.endsWith(".parquet")), [], `${names}`);
    const [{ n }] = await queryParquet(
      `SELECT count(*) AS n FROM read_parquet('${sqlString(out)}/*.parquet')`,
    );
    const logged = sumRows(a) + sumRows(b);
    console.log(`overlap: ${logged} rows logged by the two collectors, ${n} in files`);
    assert.equal(Number(n), logged, "no row of either collector lost");
  } finally {
    await first.dispose();
    await second?.dispose();
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("SIGTERM with the writer stuck: exit within the close deadline, the file salvaged by the next run", async () => {
  const out = await Deno.makeTempDir({ prefix: "podperf-e2e-stuck-" });
  const args = ["--output", out, "--no-nri", "--node", "n1"];
  const p = PodperfProcess.collect(args, { PODPERF_TEST_WRITER_STALL_MS: "60000" });
  try {
    await p.waitFor("collecting");
    await new Promise((r) => setTimeout(r, 1500));
    const t = Date.now();
    p.kill("SIGTERM");
    const exit = await p.exited();
    const took = Date.now() - t;
    console.log(`SIGTERM with the writer stuck: exit ${exit.code} after ${took} ms`);
    assert.ok(took < 8000, `exit took ${took} ms`);
    // the stalled writer never wrote its rows: counted lost, exit 3, summary printed
    assert.equal(exit.code, 3, exit.lines.map((l) => l.raw).join("\n"));
    assert.match(exit.stdout, /records, 0 rows in 0 file\(s\)/);
  } finally {
    await p.dispose();
  }
  // the next run takes the dead writer's leftovers (if any reached disk) without error
  const next = PodperfProcess.collect([...args, "--duration", "1s"]);
  try {
    const exit = await next.exited();
    assert.equal(exit.code, 0, exit.lines.map((l) => l.raw).join("\n"));
    const names = [...Deno.readDirSync(out)].map((e) => e.name);
    assert.deepEqual(names.filter((n) => !n.endsWith(".parquet")), [], `${names}`);
  } finally {
    await next.dispose();
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});
