import assert from "@podperf/assert";
import { OTHERS_COMM, RunTotals } from "../../lib/collect/run_totals.ts";
import { outputRow } from "../../lib/output/mod.ts";

const base = {
  tgid: 7,
  comm: "app",
  cgroupId: 9n,
  cycles: 10,
  instructions: 20,
  llcMisses: null,
  pageFaults: 1,
  contextSwitches: 2,
  runqDelayNs: 0,
  runqWaits: 0,
  carried: false,
  scaled: false,
  records: 3,
};

Deno.test("rows merge per process and cgroup; a NULL counter stays NULL", () => {
  const t = new RunTotals();
  t.add([
    outputRow({ ...base, monoNs: 2_000_000n, cpuNs: 100 }, null),
    outputRow({ ...base, monoNs: 3_000_000n, cpuNs: 50, cycles: null, scaled: true }, null),
    outputRow({ ...base, monoNs: 3_000_000n, cpuNs: 5, tgid: 8 }, null),
  ]);
  const rows = t.rows().sort((a, b) => a.tgid - b.tgid);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].cpuNs, 150);
  assert.equal(rows[0].cycles, null);
  assert.equal(rows[0].instructions, 40);
  assert.equal(rows[0].records, 6);
  assert.equal(rows[0].scaled, true);
  assert.equal(rows[0].monoNs, 2_000_000n);
  assert.deepEqual(t.window(), { from: 2_000_000n, to: 3_000_000n });
});

Deno.test("pod columns learned after a process's first rows fill the merged row", () => {
  const t = new RunTotals();
  const meta = {
    podName: "p",
    podNamespace: "n",
    podUid: "u",
    containerName: "c",
    containerId: "id",
    source: "nri" as const,
  };
  t.add([outputRow({ ...base, monoNs: 0n, cpuNs: 1 }, null)]);
  t.add([outputRow({ ...base, monoNs: 1n, cpuNs: 1 }, meta)]);
  const [row] = t.rows();
  assert.equal(row.podName, "p");
  assert.equal(row.metaSource, "nri");
  assert.equal(row.cpuNs, 2);
});

Deno.test("past the cap new processes merge into one (others) row; CPU time is kept", () => {
  const t = new RunTotals({ maxRows: 3 });
  const rows = [];
  for (let tgid = 1; tgid <= 10; tgid++) {
    rows.push(outputRow({ ...base, tgid, monoNs: 0n, cpuNs: 10 }, null));
  }
  t.add(rows);
  // A process already held keeps merging into its own row.
  t.add([outputRow({ ...base, tgid: 1, monoNs: 1n, cpuNs: 5 }, null)]);
  assert.equal(t.size, 4);
  assert.equal(t.overflowRows, 7);
  const others = t.rows().find((r) => r.comm === OTHERS_COMM);
  assert.ok(others);
  assert.equal(others.cpuNs, 70);
  assert.equal(others.tgid, 0);
  assert.equal(t.rows().find((r) => r.tgid === 1)?.cpuNs, 15);
  assert.equal(t.rows().reduce((s, r) => s + r.cpuNs, 0), 105);
});
