import assert from "@podperf/assert";
import { CommCache } from "../../lib/aggregate/comm_cache.ts";

function words(name: string): [number, number, number, number] {
  const b = new Uint8Array(16);
  b.set(new TextEncoder().encode(name).subarray(0, 16));
  const v = new DataView(b.buffer);
  return [0, 4, 8, 12].map((o) => v.getUint32(o, true)) as [number, number, number, number];
}

Deno.test("the comm cache never holds more than half its capacity, whatever the churn", () => {
  const cache = new CommCache(16);
  let max = 0;
  for (let i = 0; i < 1000; i++) {
    assert.equal(cache.get(...words(`p${i}`)), `p${i}`);
    max = Math.max(max, cache.size);
  }
  assert.ok(max <= 8, `held ${max} names`);
  // a name seen again is served from the cache (no growth)
  const before = cache.size;
  cache.get(...words("p999"));
  assert.equal(cache.size, before);
});
