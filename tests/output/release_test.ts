import assert from "@podperf/assert";
import { release } from "../../lib/output/release.ts";

Deno.test("release detaches typed arrays and buffers, and may be called again", () => {
  const a = new Float64Array(16), b = new ArrayBuffer(64), view = new Int32Array(b, 8, 4);
  release(a, view);
  assert.ok(a.buffer.detached && b.detached);
  assert.equal(view.length, 0);
  release(a, b);
});
