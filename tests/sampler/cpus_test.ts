import assert from "@podperf/assert";
import { onlineCpus, parseCpuList } from "../../lib/sampler/cpus.ts";

Deno.test("parseCpuList expands ranges and single CPUs", () => {
  assert.deepEqual(parseCpuList("0-3,6,8-9\n"), [0, 1, 2, 3, 6, 8, 9]);
  assert.deepEqual(parseCpuList("0\n"), [0]);
});

Deno.test("onlineCpus lists as many CPUs as the machine has online", () => {
  assert.equal(onlineCpus().length, navigator.hardwareConcurrency);
});
