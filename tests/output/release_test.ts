import assert from "@podperf/assert";
import { release, trimMalloc } from "../../lib/output/release.ts";

Deno.test("release detaches typed arrays and buffers, and may be called again", () => {
  const a = new Float64Array(16), b = new ArrayBuffer(64), view = new Int32Array(b, 8, 4);
  release(a, view);
  assert.ok(a.buffer.detached && b.detached);
  assert.equal(view.length, 0);
  release(a, b);
});

/** This process's resident memory, MiB. */
function rssMiB(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

Deno.test("trimMalloc gives freed malloc pages back to the kernel", () => {
  // 64 MiB in 4 KiB blocks (below malloc's mmap threshold, so they come from its heap), every
  // 16th kept: the free space between them is what only a trim returns.
  const blocks = Array.from({ length: 16_384 }, () => new Uint8Array(4096).fill(1));
  const kept = blocks.filter((_, i) => i % 16 === 0);
  release(...blocks.filter((_, i) => i % 16 !== 0));
  const before = rssMiB();
  assert.equal(trimMalloc(), true, "glibc's malloc_trim is reachable");
  const after = rssMiB();
  console.log(`RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB`);
  assert.ok(before - after >= 12, `trim returned ${(before - after).toFixed(1)} MiB of ~60 freed`);
  assert.equal(kept[1][0], 1, "kept blocks are intact");
  release(...kept);
});
