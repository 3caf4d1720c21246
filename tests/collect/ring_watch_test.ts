import assert from "@podperf/assert";
import { podperf } from "../cli/podperf.ts";
import { spawnInCgroup, tokenRingBinary } from "../sampler/fixtures/loads.ts";
import { makeCgroup, removeCgroup } from "../sampler/fixtures/busy_child.ts";
import { MIN_RING_BYTES } from "../../lib/sampler/mod.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import { captureStderr } from "../helpers/stderr.ts";
import { RingWatch } from "../../lib/collect/ring_watch.ts";

function logLines(stderr: string, msg: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .filter((l) => l.msg === msg);
}

const base = ["collect", "--duration", "3s", "--no-nri", "--no-fallbacks", "--no-summary"];

Deno.test("collect sizes its ring from the measured rate and says so", async () => {
  const out = await Deno.makeTempDir({ prefix: "podperf-ring-" });
  try {
    const run = await podperf([...base, "--output", out]);
    assert.equal(run.code, 0, run.stderr);
    const [ring] = logLines(run.stderr, "ring buffer");
    assert.ok(ring, run.stderr);
    assert.equal(ring.sizedFrom, "measured record rate");
    assert.ok(Number(ring.recordsPerS) > 0, JSON.stringify(ring));
    assert.ok(Number(ring.bytes) >= MIN_RING_BYTES, JSON.stringify(ring));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a ring too small for the load: one warning with the rate and a ring that holds it", async () => {
  const out = await Deno.makeTempDir({ prefix: "podperf-ring-" });
  const cg = makeCgroup("ringfull");
  // a load that outruns 4 KiB whatever the drain does: a record at nearly every switch, one CPU
  const load = spawnInCgroup(cg.path, [await tokenRingBinary(), "12"], "0");
  try {
    const run = await podperf([...base, "--ring-size", "4KiB", "--output", out]);
    assert.equal(run.code, 0, run.stderr);
    const [ring] = logLines(run.stderr, "ring buffer");
    assert.deepEqual([ring.bytes, ring.sizedFrom], [4096, "--ring-size"]);
    const full = logLines(
      run.stderr,
      "ring buffer full: charges carried into each task's next record",
    );
    // once a minute at most: one in a 3 s run
    assert.equal(full.length, 1, run.stderr);
    assert.ok(
      Number(full[0].lost) > 0 && Number(full[0].recordsPerS) > 1000,
      JSON.stringify(full[0]),
    );
    assert.ok(Number(full[0].suggestedRingBytes) >= MIN_RING_BYTES, JSON.stringify(full[0]));
    const done = logLines(run.stderr, "collection finished")[0];
    assert.ok(Number(done.lost) >= Number(full[0].lost), JSON.stringify(done));
    // a steady load: the warning's rate is near the run's (it once took losses since attach
    // over the few ms before the first drain, 30 times too high, and sized the ring from it)
    const runRate = (Number(done.records) + Number(done.lost)) / (Number(done.elapsedMs) / 1000);
    assert.ok(Number(full[0].recordsPerS) < 2 * runRate, `${full[0].recordsPerS} vs ${runRate}/s`);
    // each file counts its carried rows in podperf.coverage, as an independent reader sees them
    const files = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".parquet"));
    assert.ok(files.length > 0);
    let carriedRows = 0;
    for (const f of files) {
      const path = `'${sqlString(`${out}/${f.name}`)}'`;
      const [{ n }] = await queryParquet(
        `SELECT count(*)::INTEGER AS n FROM read_parquet(${path}) WHERE carried`,
      );
      const [{ v }] = await queryParquet(
        `SELECT decode(value) AS v FROM parquet_kv_metadata(${path})
         WHERE decode(key) = 'podperf.coverage'`,
      );
      assert.equal(JSON.parse(String(v)).rows_carried, Number(n), `${f.name}: ${v}`);
      carriedRows += Number(n);
    }
    assert.ok(carriedRows > 0, "no carried row in a run whose ring overflowed");
  } finally {
    await load.stop();
    await removeCgroup(cg);
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("the ring watch's rate covers the losses' whole span, from attach", async () => {
  let lost = 0n, records = 0;
  const w = new RingWatch({
    lost: () => lost,
    records: () => records,
    ringBytes: 4096,
    since: 0,
    periodMs: 10_000,
  });
  const text = await captureStderr(() => {
    lost = 1000n;
    records = 2000;
    w.check(5); // the first drain, 5 ms after attach: too soon to say a rate
    w.check(2000); // 3000 records and losses in 2 s
    lost = 1500n;
    w.check(4000); // within the period: quiet
  });
  const full = logLines(text, "ring buffer full: charges carried into each task's next record");
  assert.equal(full.length, 1, text);
  assert.deepEqual([full[0].lost, full[0].recordsPerS], [1000, 1500]);
  assert.equal(w.warnings, 1);
});

Deno.test("--ring-size must be a power of two: a usage error, exit 2", async () => {
  const run = await podperf(["collect", "--ring-size", "5000", "--duration", "1s"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--ring-size must be a power of two/);
});
