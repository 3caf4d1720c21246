/**
 * What collect needs from the kernel: CAP_BPF + CAP_PERFMON, and a load refused for lack of
 * one says which. Checked by running collect with its capability bounding set cut (as uid 0,
 * exec keeps only what the bounding set allows), as a pod with `capabilities.add` runs it.
 */
import assert from "@podperf/assert";
import { missingCapabilities } from "../../lib/sampler/errors.ts";
import { collectBriefly } from "../cli/podperf.ts";

/** collect run with its capability bounding set cut to `caps` (setpriv). */
function collectWith(caps: string[]): Promise<{ code: number; stderr: string }> {
  const bounding = ["-all", ...caps.map((c) => `+${c}`)].join(",");
  return collectBriefly(["setpriv", `--bounding-set=${bounding}`, "--"]);
}

Deno.test("capabilities: CAP_SYS_ADMIN covers both; otherwise each missing one is named", () => {
  const bit = (n: number) => 1n << BigInt(n);
  const hex = (v: bigint) => v.toString(16).padStart(16, "0");
  assert.deepEqual(missingCapabilities(hex(bit(38) | bit(39))), []);
  assert.deepEqual(missingCapabilities(hex(bit(21))), []);
  assert.deepEqual(missingCapabilities(hex(bit(38))), ["CAP_BPF"]);
  assert.deepEqual(missingCapabilities(hex(bit(39))), ["CAP_PERFMON"]);
  assert.deepEqual(missingCapabilities(hex(0n)), ["CAP_BPF", "CAP_PERFMON"]);
});

Deno.test("capabilities: collect runs with CAP_BPF + CAP_PERFMON alone; without one it says which", async () => {
  const both = await collectWith(["bpf", "perfmon"]);
  assert.equal(both.code, 0, both.stderr);
  for (const [keep, missing] of [["perfmon", "CAP_BPF"], ["bpf", "CAP_PERFMON"]]) {
    const r = await collectWith([keep]);
    assert.equal(r.code, 1, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.startsWith("podperf: error:")) ?? r.stderr;
    assert.match(line, new RegExp(`missing ${missing} \\(`), line);
  }
});
