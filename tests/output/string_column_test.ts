import assert from "@podperf/assert";
import { ByteWriter } from "hyparquet-writer";
import { StringColumn } from "../../lib/output/string_column.ts";

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

Deno.test("rows get dictionary indexes in first-seen order; NULL is -1 and counted", () => {
  const col = new StringColumn(8);
  const values = ["b", "a", null, "b", `${"a"}`, "c", null, "a"];
  values.forEach((v, i) => col.push(i, v));
  assert.deepEqual([...col.indexes], [0, 1, -1, 0, 1, 2, -1, 1]);
  assert.deepEqual(col.values, ["b", "a", "c"]);
  assert.equal(col.nulls, 2);
  assert.equal(col.chars, 6);
});

Deno.test("the dictionary page is PLAIN (u32 length + UTF-8) and bounds follow UTF-8 byte order", () => {
  const col = new StringColumn(4);
  // UTF-16 order puts "😀" (0xD83D…) before "\uFFFD"; UTF-8 byte order (Parquet's) after it
  ["\uFFFD", "😀", "", "ünï"].forEach((v, i) => col.push(i, v));
  const page = new ByteWriter(2); // tiny on purpose: the page must grow while encoding
  const bounds = col.writeDictionary(page);
  const bytes = page.getBytes();
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const decoded: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const len = view.getUint32(at, true);
    decoded.push(utf8(bytes.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  assert.deepEqual(decoded, ["\uFFFD", "😀", "", "ünï"]);
  assert.equal(page.offset, bytes.length);
  assert.equal(utf8(bounds!.min), "");
  assert.equal(utf8(bounds!.max), "😀");
});

Deno.test("an all-NULL column has no bounds; clear() starts a new dictionary", () => {
  const col = new StringColumn(2);
  col.push(0, null);
  col.push(1, null);
  assert.equal(col.writeDictionary(new ByteWriter()), null);
  col.clear();
  col.push(0, "x");
  col.push(1, "x");
  assert.deepEqual(col.values, ["x"]);
  assert.deepEqual([...col.indexes], [0, 0]);
  assert.equal(col.nulls, 0);
});
