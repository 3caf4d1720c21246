/**
 * `podperf collect` against output directories that fail: read-only (refused at start, exit 1)
 * and full at the final close (exit 3, summary still printed).
 */
import assert from "node:assert/strict";
import { PodperfProcess } from "./podperf_process.ts";

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
  // room for the lock and the temporary file's header, not for the first row group
  const out = await tmpfs("size=24k");
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
