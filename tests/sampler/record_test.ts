import assert from "@podperf/assert";
import {
  COMM_LEN,
  CONFIG_OFF,
  CONFIG_SIZE,
  CONFIG_TASK_COUNTS,
  decodeRecord,
  FLAG_CARRIED,
  FLAG_ONE_SLOT,
  FLAG_SWITCH,
  FLAG_UNSEEN,
  flagScaled,
  flagValid,
  NR_COUNTERS,
  OFF,
  PENDING,
  PENDING_OFF,
  PENDING_SIZE,
  RECORD_SIZE,
} from "../../lib/sampler/record.ts";
import { COUNTERS } from "../../lib/sampler/counter_table.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The task count each counter of the table reads, by name. */
const TASK = Object.fromEntries(
  COUNTERS.flatMap((c) => "task" in c ? [[c.name, c.task.id]] : []),
);

interface BtfMember {
  name: string;
  typeId: number;
  bitsOffset: number;
}

/** A struct as the compiler laid it out, from the object's BTF. */
async function structFromBtf(name: string): Promise<
  { size: number; members: BtfMember[]; arrays: Map<number, number> }
> {
  const out = await new Deno.Command("bpftool", {
    args: ["btf", "dump", "file", `${root}bpf/podperf.bpf.o`, "format", "raw"],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  const arrays = new Map<number, number>();
  for (const l of lines) {
    const m = l.match(/^\[(\d+)\] ARRAY .* nr_elems=(\d+)/);
    if (m) arrays.set(Number(m[1]), Number(m[2]));
  }
  const start = lines.findIndex((l) => l.includes(`STRUCT '${name}'`));
  assert.ok(start >= 0, `struct ${name} is missing from the object's BTF`);
  const size = Number(lines[start].match(/size=(\d+)/)![1]);
  const members: BtfMember[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = l.match(/^\s+'(\w+)' type_id=(\d+) bits_offset=(\d+)/);
    if (!m) break;
    members.push({ name: m[1], typeId: Number(m[2]), bitsOffset: Number(m[3]) });
  }
  return { size, members, arrays };
}

Deno.test("record layout in TypeScript equals the compiled struct's BTF", async () => {
  const { size, members, arrays } = await structFromBtf("podperf_record");
  assert.equal(size, RECORD_SIZE);
  const want: Record<string, number> = {
    ts_ns: OFF.tsNs,
    cgroup_id: OFF.cgroupId,
    cpu_ns: OFF.cpuNs,
    span_ns: OFF.spanNs,
    runq_ns: OFF.runqNs,
    counters: OFF.counters,
    pid: OFF.pid,
    tgid: OFF.tgid,
    cpu: OFF.cpu,
    flags: OFF.flags,
    waits: OFF.waits,
    runs: OFF.runs,
    comm: OFF.comm,
  };
  assert.deepEqual(
    Object.fromEntries(members.map((m) => [m.name, m.bitsOffset / 8])),
    want,
  );
  const byName = new Map(members.map((m) => [m.name, m]));
  assert.equal(arrays.get(byName.get("counters")!.typeId), NR_COUNTERS);
  assert.equal(arrays.get(byName.get("comm")!.typeId), COMM_LEN);
});

Deno.test("the held-back runs' layout in TypeScript equals the compiled struct's BTF", async () => {
  const { size, members, arrays } = await structFromBtf("podperf_pending");
  assert.equal(size, PENDING_SIZE);
  assert.deepEqual(
    Object.fromEntries(members.map((m) => [m.name, m.bitsOffset / 8])),
    { slot: PENDING_OFF.slot, count: PENDING_OFF.count, pad: 12, rec: PENDING_OFF.records },
  );
  const rec = members.find((m) => m.name === "rec")!;
  assert.equal(arrays.get(rec.typeId), PENDING);
  // the loader reads it at offset 0 of each CPU's state
  const state = await structFromBtf("cpu_state");
  assert.deepEqual(state.members[0], {
    name: "pending",
    typeId: state.members[0].typeId,
    bitsOffset: 0,
  });
});

Deno.test("the config's layout in TypeScript equals the compiled struct's BTF", async () => {
  const { size, members, arrays } = await structFromBtf("podperf_config");
  assert.equal(size, CONFIG_SIZE);
  assert.deepEqual(
    Object.fromEntries(members.map((m) => [m.name, m.bitsOffset / 8])),
    {
      exclude_tgid: CONFIG_OFF.excludeTgid,
      counter_mask: CONFIG_OFF.counterMask,
      nr_cpus: CONFIG_OFF.nrCpus,
      wake_bytes: CONFIG_OFF.wakeBytes,
      interval_ns: CONFIG_OFF.intervalNs,
      task_count: CONFIG_OFF.taskCount,
      noop: CONFIG_OFF.noop,
      hide_tgid: CONFIG_OFF.hideTgid,
    },
  );
  const taskCount = members.find((m) => m.name === "task_count")!;
  assert.equal(arrays.get(taskCount.typeId), CONFIG_TASK_COUNTS);
  assert.ok(NR_COUNTERS <= CONFIG_TASK_COUNTS);
});

Deno.test("flag bits and counter count in TypeScript equal bpf/podperf.h", async () => {
  // The macros are not in BTF: compile the header into a host program that prints them.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/flags.c`,
      `#include <stdio.h>
#include <linux/types.h>
#include "podperf.h"
int main(void) {
  printf("%d %d %u %u %u %u %u %u %u %u %d %d %d\\n", PODPERF_NR_COUNTERS, PODPERF_COMM_LEN,
    PODPERF_FLAG_VALID(0), PODPERF_FLAG_VALID(4), PODPERF_FLAG_SCALED(0), PODPERF_FLAG_SCALED(4),
    PODPERF_FLAG_SWITCH, PODPERF_FLAG_CARRIED, PODPERF_FLAG_ONE_SLOT, PODPERF_FLAG_UNSEEN,
    PODPERF_PENDING,
    PODPERF_TASK_FAULTS, PODPERF_TASK_SWITCHES);
  return 0;
}
`,
    );
    const cc = await new Deno.Command("clang", {
      args: [`-I${root}bpf`, "-o", `${dir}/flags`, `${dir}/flags.c`],
    }).output();
    assert.equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const out = await new Deno.Command(`${dir}/flags`).output();
    assert.deepEqual(
      new TextDecoder().decode(out.stdout).trim().split(" ").map(Number),
      [
        NR_COUNTERS,
        COMM_LEN,
        flagValid(0),
        flagValid(4),
        flagScaled(0),
        flagScaled(4),
        FLAG_SWITCH,
        FLAG_CARRIED,
        FLAG_ONE_SLOT,
        FLAG_UNSEEN,
        PENDING,
        TASK.page_faults,
        TASK.context_switches,
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeRecord maps clear valid bits to null and reads the NUL-padded comm", () => {
  const buf = new ArrayBuffer(8 + RECORD_SIZE);
  const v = new DataView(buf);
  const o = 8;
  v.setBigUint64(o + OFF.tsNs, 123n, true);
  v.setBigUint64(o + OFF.cgroupId, 4026531835n, true);
  v.setBigUint64(o + OFF.cpuNs, 1_000_000n, true);
  v.setBigUint64(o + OFF.spanNs, 900_000n, true);
  v.setBigUint64(o + OFF.runqNs, 5_000n, true);
  v.setBigUint64(o + OFF.counters + 8 * 3, 7n, true);
  v.setBigUint64(o + OFF.counters + 8 * 4, 2n, true);
  v.setBigUint64(o + OFF.counters, 99n, true); // valid bit clear: must decode as null
  v.setUint32(o + OFF.pid, 11, true);
  v.setUint32(o + OFF.tgid, 10, true);
  v.setUint32(o + OFF.cpu, 1, true);
  v.setUint32(
    o + OFF.flags,
    flagValid(3) | flagValid(4) | flagScaled(4) | FLAG_SWITCH | FLAG_ONE_SLOT,
    true,
  );
  v.setUint32(o + OFF.waits, 3, true);
  v.setUint32(o + OFF.runs, 4, true);
  new Uint8Array(buf, o + OFF.comm, COMM_LEN).set(new TextEncoder().encode("busy"));
  const r = decodeRecord(v, o);
  assert.deepEqual(r.counters, [null, null, null, 7n, 2n]);
  assert.deepEqual(r.scaled, [false, false, false, false, true]);
  assert.equal(r.atSwitch, true);
  assert.equal(r.oneSlot, true);
  assert.deepEqual([r.waits, r.runs], [3, 4]);
  assert.equal(r.carried, false);
  assert.deepEqual([r.spanNs, r.runqNs], [900_000n, 5_000n]);
  assert.equal(r.comm, "busy");
  assert.equal(r.cgroupId, 4026531835n);
  assert.deepEqual([r.tsNs, r.cpuNs, r.pid, r.tgid, r.cpu], [123n, 1_000_000n, 11, 10, 1]);
});

Deno.test("podperf_scale extrapolates multiplexed counts exactly, even past 64-bit products", async () => {
  // The BPF side's scaling lives in bpf/podperf.h: compile it on the host and compare with
  // exact BigInt arithmetic (the old `dc / dr * de` fallback lost up to `de` per read).
  const cases: [bigint, bigint, bigint][] = [
    [1000n, 3n, 2n],
    [123_456_789n, 10_000_000n, 3_333_333n],
    [(1n << 40n) + 12345n, (1n << 33n) + 7n, (1n << 33n) - 5n], // dc·de overflows 64 bits
    [(1n << 63n) + 999n, (1n << 40n) + 1n, (1n << 40n) - 3n],
    [5_000_000_123n, 7_000_000_001n, 4_999_999_999n],
    [0xffff_ffff_ffffn, 0xffff_ffffn + 2n, 0xffff_ffffn + 1n],
  ];
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/scale.c`,
      `#include <stdio.h>
#include <stdlib.h>
#include <linux/types.h>
#include "podperf.h"
int main(int argc, char **argv) {
  for (int i = 1; i + 2 < argc; i += 3)
    printf("%llu\\n", (unsigned long long)podperf_scale(strtoull(argv[i], 0, 10),
      strtoull(argv[i + 1], 0, 10), strtoull(argv[i + 2], 0, 10)));
  return 0;
}
`,
    );
    const cc = await new Deno.Command("clang", {
      args: [`-I${root}bpf`, "-o", `${dir}/scale`, `${dir}/scale.c`],
    }).output();
    assert.equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const out = await new Deno.Command(`${dir}/scale`, { args: cases.flat().map(String) }).output();
    const got = new TextDecoder().decode(out.stdout).trim().split("\n").map(BigInt);
    assert.deepEqual(got, cases.map(([c, e, r]) => c * e / r));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
