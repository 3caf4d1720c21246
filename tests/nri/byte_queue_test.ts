import assert from "@podperf/assert";
import { ByteQueue } from "../../lib/nri/byte_queue.ts";

Deno.test("a byte queue grown by one big message returns to its initial size once drained", () => {
  const q = new ByteQueue(1024);
  const big = new Uint8Array(1 << 20).fill(7);
  q.push(big);
  assert.ok(q.capacity >= 1 << 20);
  assert.equal(q.view(0, 4).join(), "7,7,7,7");
  q.consume(big.length - 1);
  assert.ok(q.capacity >= 1 << 20, "kept while bytes remain");
  q.consume(1);
  assert.equal(q.length, 0);
  assert.equal(q.capacity, 1024);
  q.push(Uint8Array.of(1, 2, 3));
  assert.equal(q.u8(2), 3);
});
