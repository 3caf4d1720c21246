/**
 * Victims and suspects on the demo node's planted interference, the statistic itself, and
 * min/max downsampling that keeps spikes.
 */
import assert from "@podperf/assert";
import { buildSeries } from "../../lib/cli/report.ts";
import { DEMO_PLANTED, writeDemoFiles } from "../../lib/report/demo_data.ts";
import { findSuspects, pearson } from "../../lib/report/suspects.ts";
import { minMaxDownsample } from "../../lib/report/html/downsample.ts";

Deno.test("pearson: ±1 for linear series, null for a constant one, matches a hand computation", () => {
  assert.equal(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1);
  assert.equal(pearson([1, 2, 3, 4], [8, 6, 4, 2]), -1);
  assert.equal(pearson([1, 2, 3], [5, 5, 5]), null);
  assert.equal(pearson([1, 2], [1, 2]), null);
  // x = 1..5, y = 2,1,4,3,5: sxy = 8, sxx = syy = 10
  assert.ok(Math.abs(pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])! - 0.8) < 1e-12);
});

Deno.test("the demo node: each planted victim is found with its planted suspect first, and nobody else is blamed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "podperf-suspects-" });
  try {
    const demo = await writeDemoFiles({ dir, durationS: 400, intervalMs: 50, seed: 7 });
    const s = await buildSeries(demo.paths, { by: "pod", everyNs: 1_000_000_000n });
    const r = findSuspects(s);
    assert.deepEqual(r.notes, []);
    for (const p of DEMO_PLANTED) {
      const f = r.findings.find((x) => x.victim === p.victim && x.kind === p.kind);
      assert.ok(f, `${p.victim} found as a ${p.kind} victim: ${JSON.stringify(r.findings)}`);
      assert.equal(f.suspects[0]?.label, p.suspect, `${p.victim}'s first suspect`);
      assert.ok(f.suspects[0].r > 0.8, `r ${f.suspects[0].r}`);
      assert.ok(f.suspects[0].meanElevated > 2 * f.suspects[0].meanOther);
      assert.ok(f.meanElevated > 1.5 * f.baseline);
    }
    // every suspect named anywhere is a planted one: prometheus's spikes and the noisy pods
    // implicate nobody
    const named = new Set(r.findings.flatMap((f) => f.suspects.map((x) => x.label)));
    assert.deepEqual([...named].sort(), DEMO_PLANTED.map((p) => p.suspect).sort());
    // the thrasher's own CPI rises too; its own LLC misses explain it, so postgres is not blamed
    const scanner = r.findings.find((f) => f.victim === "analytics/scanner");
    if (scanner) assert.deepEqual(scanner.suspects, []);
    // ranked: the victims with suspects come first
    assert.ok(r.findings.slice(0, 2).every((f) => f.suspects.length > 0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("min/max downsampling keeps a one-bucket spike and dip, in time order, within 2 points per column", () => {
  const n = 3600;
  const x = Array.from({ length: n }, (_, i) => i);
  const y: (number | null)[] = x.map((i) => 10 + (i % 7));
  y[1234] = 500;
  y[2345] = -40;
  for (let i = 3000; i < 3020; i++) y[i] = null;
  const d = minMaxDownsample({ x, ys: [y] }, 600);
  assert.equal(d.x.length, 1200);
  assert.equal(d.ys[0].length, 1200);
  const vals = d.ys[0].filter((v) => v !== null) as number[];
  assert.equal(Math.max(...vals), 500);
  assert.equal(Math.min(...vals), -40);
  // a column with only nulls stays a gap, not a zero
  assert.ok(d.ys[0].includes(null));
  assert.ok(!vals.includes(0));
  // x stays increasing
  for (let i = 1; i < d.x.length; i++) assert.ok(d.x[i] > d.x[i - 1]);
  // short input is drawn as it is
  const small = { x: [1, 2, 3], ys: [[1, null, 3]] };
  assert.equal(minMaxDownsample(small, 600), small);
});
