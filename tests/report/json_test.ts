import assert from "node:assert/strict";
import { formatJson, formatJsonLines } from "../../lib/report/mod.ts";

Deno.test("JSON output writes u64 ids as exact decimal strings and keeps nulls", () => {
  const rows = [{ cgroupId: 2n ** 64n - 1n, cycles: null, podName: "a" }, {
    cgroupId: 1n,
    cycles: 5,
    podName: null,
  }];
  assert.equal(
    formatJsonLines(rows),
    '{"cgroupId":"18446744073709551615","cycles":null,"podName":"a"}\n' +
      '{"cgroupId":"1","cycles":5,"podName":null}\n',
  );
  assert.deepEqual(JSON.parse(formatJson(rows)), [
    { cgroupId: "18446744073709551615", cycles: null, podName: "a" },
    { cgroupId: "1", cycles: 5, podName: null },
  ]);
  assert.equal(formatJsonLines([]), "");
});
