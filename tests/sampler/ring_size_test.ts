import assert from "@podperf/assert";
import {
  MAX_RING_BYTES,
  measureRecordRate,
  MIN_RING_BYTES,
  OFF,
  RING_HOLD_S,
  RING_RECORD_BYTES,
  ringBytesFor,
  Sampler,
} from "../../lib/sampler/mod.ts";
import { onlineCpus } from "../../lib/sampler/cpus.ts";
import { pingPongBinary, spawnInCgroup } from "./fixtures/loads.ts";
import { makeCgroup, removeCgroup } from "./fixtures/busy_child.ts";

Deno.test("ringBytesFor: a power of two holding RING_HOLD_S of the rate, within its bounds", () => {
  assert.equal(ringBytesFor(0), MIN_RING_BYTES);
  assert.equal(ringBytesFor(1_000), MIN_RING_BYTES);
  assert.equal(ringBytesFor(1e9), MAX_RING_BYTES);
  for (const rate of [50_000, 200_000, 650_000, 1_500_000]) {
    const bytes = ringBytesFor(rate);
    assert.equal(bytes & (bytes - 1), 0, `${bytes} is not a power of two`);
    const need = rate * RING_RECORD_BYTES * RING_HOLD_S;
    assert.ok(bytes >= Math.min(need, MAX_RING_BYTES), `${bytes} < ${need} for ${rate}/s`);
    assert.ok(
      bytes === MIN_RING_BYTES || bytes / 2 < need,
      `${bytes} is twice what ${rate}/s needs`,
    );
  }
  // the 64-task load of the saturation benchmark: the 16 MiB that lost nothing there
  assert.equal(ringBytesFor(650_000), 16 << 20);
});

Deno.test("the measured record rate bounds what the sampler then writes (pipe ping-pong)", async () => {
  const cg = makeCgroup("ringrate");
  const load = spawnInCgroup(cg.path, [await pingPongBinary(), "0"]);
  const s = Sampler.open({ ringBytes: 64 << 20 });
  try {
    await new Promise((r) => setTimeout(r, 300));
    s.drain(() => {});
    const t0 = performance.now();
    const estimate = await measureRecordRate(onlineCpus().length, s.intervalNs, 1000);
    let runs = 0;
    const n = s.drain((v, off) => runs += v.getUint32(off + OFF.runs, true));
    const secs = (performance.now() - t0) / 1000;
    const records = n / secs;
    console.log(
      `estimated ${estimate} records/s, the sampler wrote ${Math.round(records)}/s ` +
        `holding ${Math.round(runs / secs)} runs/s`,
    );
    assert.equal(s.stats().lost, 0n);
    // each switch ends at most one run and each tick at most one: an upper bound of the runs,
    // and a tight one when switches are between busy tasks rather than to idle (records are
    // fewer when the kernel sums a process's runs in one slot: tests/sampler/accuracy_test.ts)
    assert.ok(runs / secs <= estimate * 1.1, `${runs / secs} runs/s, ${estimate}/s estimated`);
    assert.ok(runs / secs >= estimate * 0.3, `${runs / secs} runs/s, ${estimate}/s estimated`);
    assert.ok(n <= runs);
    assert.ok(ringBytesFor(estimate) >= MIN_RING_BYTES);
  } finally {
    s.close();
    await load.stop();
    await removeCgroup(cg);
  }
});
