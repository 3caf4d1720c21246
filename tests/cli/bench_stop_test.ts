/**
 * The stages bench's cut (PODPERF_BENCH_STOP_AFTER): a collector stopping after a step takes
 * the records that far and no further, so the bench's differences between collectors are the
 * cost of the steps between them. A cut that did nothing would make every step read as free.
 */
import assert from "@podperf/assert";
import { BENCH_STOP_ENV } from "../../lib/collect/collector.ts";
import { podperf } from "./podperf.ts";

interface Finished {
  records: number;
  rows: number;
  files: number;
  /** rows the cut's own step handled (aggregated, joined, packed), from the finish line */
  atStop: number;
}

/** A 2 s collection next to a busy loop, stopping after `stop` (undefined: the whole path). */
async function collectStopping(stop: string | undefined): Promise<Finished> {
  const out = await Deno.makeTempDir({ prefix: "podperf-stop-" });
  const busy = new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn();
  try {
    const r = await podperf(
      ["collect", "--duration", "2s", "--no-nri", "--no-summary", "--output", out],
      stop === undefined ? {} : { [BENCH_STOP_ENV]: stop },
    );
    assert.equal(r.code, 0, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.includes('"collection finished"'));
    assert.ok(line, r.stderr);
    const fin = JSON.parse(line);
    const files = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".parquet")).length;
    assert.equal(fin.benchStop?.after, stop, line);
    const atStop = stop === undefined ? 0 : Number(fin.benchStop.rows);
    return { records: Number(fin.records), rows: Number(fin.rows), files, atStop };
  } finally {
    busy.kill("SIGKILL");
    await busy.status;
    await Deno.remove(out, { recursive: true });
  }
}

Deno.test("a collector stopping after a step takes the records that far and writes nothing", async () => {
  const whole = await collectStopping(undefined);
  assert.ok(whole.records > 0 && whole.rows > 0 && whole.files === 1, JSON.stringify(whole));
  // read from the ring and dropped: the aggregator never sees them
  const ring = await collectStopping("ring");
  assert.deepEqual(ring, { records: 0, rows: 0, files: 0, atStop: 0 });
  // aggregated (and joined, packed) into rows that never reach the writer; the step itself ran
  // (its row count comes from its own output: packRows' batch, the joiner's rows)
  for (const stop of ["aggregate", "join", "pack"]) {
    const r = await collectStopping(stop);
    assert.ok(r.records > 0 && r.atStop > 0, `${stop}: ${JSON.stringify(r)}`);
    assert.equal(r.rows, 0, stop);
    assert.equal(r.files, 0, stop);
  }
});

Deno.test("an unknown stop is a usage error naming the variable", async () => {
  const r = await podperf(["collect", "--duration", "1s", "--no-nri", "--no-summary"], {
    [BENCH_STOP_ENV]: "writer",
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${BENCH_STOP_ENV} must be one of ring, aggregate`));
});
