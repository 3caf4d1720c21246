import assert from "@podperf/assert";
import { COMM_LEN, decodeRecord, OFF, RECORD_SIZE, Sampler } from "../../lib/sampler/mod.ts";
import { makeCgroup, removeCgroup, spawnBusy, stop } from "./fixtures/busy_child.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ns CPU `cpu` spent idle (idle + iowait in /proc/stat, 10 ms granularity). */
function idleNs(cpu: number): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n").find((l) =>
    l.startsWith(`cpu${cpu} `)
  )!;
  const f = line.trim().split(/\s+/).map(Number);
  return (f[4] + f[5]) * 1e7;
}

/** True when every byte of the record's comm after its first NUL is NUL too. */
function commNulPadded(v: DataView, off: number): boolean {
  const comm = new Uint8Array(v.buffer, v.byteOffset + off + OFF.comm, COMM_LEN);
  const nul = comm.indexOf(0);
  return nul < 0 || comm.subarray(nul).every((b) => b === 0);
}

Deno.test("a 4 KiB ring wraps many times, records stay whole, and lost stretches carry over", async () => {
  const ringBytes = 4096; // ~39 records: fills between drains, so reserves fail and it wraps
  const cg = makeCgroup("ring");
  const s = Sampler.open({ ringBytes });
  const child = spawnBusy(cg, 0);
  try {
    await sleep(200);
    s.drain(() => {});
    const lost0 = s.stats().lost;
    const self0 = s.stats().selfNs;
    const idle0 = idleNs(0);
    const lastTs = new Map<number, bigint>();
    let records = 0, cpu0Ns = 0n, carried = 0;
    let spanStart = -1n, spanEnd = 0n;
    // The busy child alone makes ~100 tick records per 100 ms on cpu 0: more than the ring holds.
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      records += s.drain((v, off) => {
        const r = decodeRecord(v, off);
        // Whole records even across the wrap: sane fields, per-CPU time never goes back.
        assert.ok(r.cpu < navigator.hardwareConcurrency && r.comm.length > 0, `bad ${r.cpu}`);
        assert.ok(r.tsNs > (lastTs.get(r.cpu) ?? 0n), "ts went back on a CPU");
        // Reused ring space is not zeroed: comm must still be NUL-padded (docs/DESIGN.md).
        assert.ok(commNulPadded(v, off), `comm of ${r.comm} not NUL-padded`);
        lastTs.set(r.cpu, r.tsNs);
        if (r.cpu === 0) {
          // The span cpu 0's records cover, reaching back as far as the first carry did.
          if (spanStart < 0n) spanStart = r.tsNs - r.cpuNs;
          spanEnd = r.tsNs;
          cpu0Ns += r.cpuNs;
          if (r.cpuNs > 2_000_000n) carried++;
        }
      });
    }
    const windowNs = Number(spanEnd - spanStart);
    const idle = idleNs(0) - idle0;
    const selfNs = Number(s.stats().selfNs - self0);
    const lost = s.stats().lost - lost0;
    console.log(
      `records ${records} (${(records * (RECORD_SIZE + 8) / ringBytes).toFixed(0)} ring sizes), ` +
        `lost ${lost}, carried ${carried}; cpu0: recorded ${cpu0Ns} + idle ${idle} ns ` +
        `(collector ${selfNs} ns on any CPU) of ${windowNs} ns`,
    );
    assert.ok(records * (RECORD_SIZE + 8) > 10 * ringBytes, "the ring did not wrap 10 times");
    assert.ok(lost > 0n, "no reserve failed: the test did not overload the ring");
    assert.ok(carried > 0, "no record carried a lost stretch");
    // Conservation on cpu 0 although most reserves failed: every ns of the span is in exactly
    // one record, idle, or the collector's (which may also have run on the other CPU, hence
    // only in the lower bound). Idle comes from /proc/stat in 10 ms steps.
    const accounted = Number(cpu0Ns) + idle;
    assert.ok(accounted + selfNs > 0.95 * windowNs, `cpu0 accounted ${accounted} of ${windowNs}`);
    assert.ok(accounted < 1.01 * windowNs + 2e7, `cpu0 accounted ${accounted} of ${windowNs}`);
  } finally {
    await stop(child);
    s.close();
    await removeCgroup(cg);
  }
});
