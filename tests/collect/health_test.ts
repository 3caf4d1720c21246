import assert from "@podperf/assert";
import { agentHealthChecks, outputBytes, WRITER_UNHEALTHY_MS } from "../../lib/collect/health.ts";

Deno.test("liveness fails when the drain stops; readiness names each failing condition", () => {
  let now = 100_000;
  const s = { lastDrain: now, attached: true, failure: -Infinity, meta: false };
  const { liveness, readiness } = agentHealthChecks({
    lastDrainAt: () => s.lastDrain,
    maxDrainAgeMs: 10_000,
    attached: () => s.attached,
    lastWriteFailureAt: () => s.failure,
    metadataReady: () => s.meta,
    now: () => now,
  });
  const run = (checks: typeof liveness) => checks.filter((c) => !c.check().ok).map((c) => c.name);
  assert.deepEqual(run(liveness), []);
  assert.deepEqual(run(readiness), ["metadata"]);
  s.meta = true;
  assert.deepEqual(run(readiness), []);
  s.failure = now - 1000;
  assert.deepEqual(run(readiness), ["writer"]);
  now += WRITER_UNHEALTHY_MS;
  s.lastDrain = now;
  assert.deepEqual(run(readiness), [], "the writer recovers a minute after its last failure");
  now += 10_000;
  assert.deepEqual(run(liveness), ["drain"]);
  assert.match(liveness[0].check().detail!, /last drain 10\.0 s ago/);
  s.attached = false;
  assert.deepEqual(run(readiness), ["drain", "sampler"]);
});

Deno.test("bytes on disk count the Parquet files only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.parquet`, new Uint8Array(100));
    await Deno.writeFile(`${dir}/b.parquet`, new Uint8Array(20));
    await Deno.writeFile(`${dir}/c.tmp`, new Uint8Array(1000));
    assert.equal(await outputBytes(dir), 120);
    assert.equal(await outputBytes(`${dir}/missing`), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
