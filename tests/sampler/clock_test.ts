import assert from "@podperf/assert";
import { measureMonoToWallOffsetNs, monoNowNs, wallNowNs } from "../../lib/sampler/clock.ts";

Deno.test("mono→wall offset maps monotonic now onto the wall clock within 1 ms", () => {
  const offset = measureMonoToWallOffsetNs();
  const wall = wallNowNs();
  const mono = monoNowNs();
  const diff = wall - (mono + offset);
  assert.ok(diff > -1_000_000n && diff < 1_000_000n, `off by ${diff} ns`);
  // And the wall clock is the one Date uses.
  const dateNs = BigInt(Date.now()) * 1_000_000n;
  const d2 = dateNs - (monoNowNs() + offset);
  assert.ok(d2 > -5_000_000n && d2 < 5_000_000n, `Date.now off by ${d2} ns`);
});
