import assert from "@podperf/assert";
import { IntDictionary } from "../../lib/output/int_dictionary.ts";

// 64-bit values as the (low, high) word pairs the encoder hands over
function pairs(values: bigint[]): Int32Array {
  return new Int32Array(new BigInt64Array(values).buffer);
}

Deno.test("64-bit values get ids in first-seen order and a PLAIN INT64 dictionary page", () => {
  const d = new IntDictionary(8);
  const values = [7n, 1n << 40n, 7n, -3n, 1n << 40n, 7n];
  assert.ok(d.build(pairs(values), values.length, true, 10));
  assert.equal(d.size, 3);
  assert.deepEqual([...d.ids.subarray(0, 6)], [0, 1, 0, 2, 1, 0]);
  assert.deepEqual([...new BigInt64Array(d.plain(true).slice().buffer)], [7n, 1n << 40n, -3n]);
});

Deno.test("32-bit values, small and large, and a PLAIN INT32 dictionary page", () => {
  const d = new IntDictionary(6);
  const src = new Int32Array([5, 100_000, 5, -1, 100_000, 4095]);
  assert.ok(d.build(src, src.length, false, 10));
  assert.deepEqual([...d.ids.subarray(0, 6)], [0, 1, 0, 2, 1, 3]);
  assert.deepEqual([...new Int32Array(d.plain(false).slice().buffer)], [5, 100_000, -1, 4095]);
});

Deno.test("gives up beyond maxSize, and when two values share their low 32 bits", () => {
  const d = new IntDictionary(8);
  assert.equal(d.build(new Int32Array([1, 2, 3, 4]), 4, false, 3), false);
  assert.equal(d.size, 0);
  // 5 and 5 + 2^32 would need the high word in the key: no dictionary rather than a wrong one
  assert.equal(d.build(pairs([5n + (1n << 32n), 5n + (2n << 32n)]), 2, true, 10), false);
  assert.equal(
    d.build(pairs([5n, 5n + (1n << 32n)]), 2, true, 10),
    true,
    "small 5 and large differ",
  );
  assert.deepEqual([...d.ids.subarray(0, 2)], [0, 1]);
});

Deno.test("a new build does not see the values of the previous one", () => {
  const d = new IntDictionary(4);
  assert.ok(d.build(new Int32Array([9, 8, 9]), 3, false, 10));
  assert.ok(d.build(new Int32Array([8, 7]), 2, false, 10));
  assert.equal(d.size, 2);
  assert.deepEqual([...d.ids.subarray(0, 2)], [0, 1]);
  assert.deepEqual([...new Int32Array(d.plain(false).slice().buffer)], [8, 7]);
  // a failed build leaves nothing behind either
  assert.equal(d.build(new Int32Array([1, 2, 3]), 3, false, 1), false);
  assert.ok(d.build(new Int32Array([3]), 1, false, 1));
  assert.deepEqual([...d.ids.subarray(0, 1)], [0]);
});
