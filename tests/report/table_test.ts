import assert from "@podperf/assert";
import {
  type Column,
  droppedColumns,
  formatTable,
  summarize,
  summaryColumns,
} from "../../lib/report/mod.ts";
import { outputRow } from "../../lib/output/schema.ts";

Deno.test("a table aligns text left, numbers right, prints null as '-' and trims lines", () => {
  const rows = [
    { name: "nginx", cpu: 1.5, id: 12n, ipc: null },
    { name: "postgres-main", cpu: 12.25, id: 2n ** 64n - 1n, ipc: 0.5 },
  ];
  const cols: Column<typeof rows[number]>[] = [
    { header: "NAME", value: (r) => r.name },
    // 12.25 is exact in binary, so toFixed rounds it half up
    { header: "CPU", value: (r) => r.cpu, digits: 1 },
    { header: "ID", value: (r) => r.id },
    { header: "IPC", value: (r) => r.ipc, digits: 2 },
    { header: "NOTE", value: () => null },
  ];
  assert.equal(
    formatTable(rows, cols),
    [
      "NAME            CPU                    ID   IPC  NOTE",
      "nginx           1.5                    12     -  -",
      "postgres-main  12.3  18446744073709551615  0.50  -",
      "",
    ].join("\n"),
  );
});

Deno.test("an empty table is its header line", () => {
  assert.equal(
    formatTable([], [{ header: "A", value: () => 1 }, { header: "B", value: () => 2 }]),
    "A  B\n",
  );
});

Deno.test("wide unicode names keep columns aligned by code points", () => {
  const out = formatTable([{ n: "prozeß" }, { n: "ab" }], [
    { header: "N", value: (r) => r.n },
    { header: "X", value: () => 1 },
  ]);
  assert.equal(out, "N       X\nprozeß  1\nab      1\n");
});

Deno.test("the pod summary table is stable text", () => {
  const base = {
    tgid: 1,
    comm: "x",
    cgroupId: 5n,
    pageFaults: 0,
    contextSwitches: 0,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
  };
  const meta = {
    podName: "web-1",
    podNamespace: "shop",
    podUid: "u1",
    containerName: "nginx",
    containerId: "c1",
    source: "nri" as const,
  };
  const rows = [
    outputRow({
      ...base,
      monoNs: 0n,
      cpuNs: 1_500_000,
      cycles: 3_000_000,
      instructions: 4_500_000,
      llcMisses: 900,
    }, meta),
    outputRow({
      ...base,
      tgid: 2,
      cgroupId: 6n,
      monoNs: 1_000_000n,
      cpuNs: 250_000,
      cycles: null,
      instructions: null,
      llcMisses: null,
    }, null),
  ];
  const text = formatTable(summarize(rows, { by: "pod", cpus: 2 }), summaryColumns("pod"));
  assert.equal(
    text,
    [
      "NAMESPACE  POD       CPU_S  NODE_%   CYCLES  INSTRUCTIONS   IPC  LLC_MPKI",
      "shop       web-1     0.002   37.50  3000000       4500000  1.50      0.20",
      "-          (no pod)  0.000    6.25        -             -     -         -",
      "",
    ].join("\n"),
  );
  for (const by of ["container", "process", "cgroup"] as const) {
    const lines = formatTable(summarize(rows, { by }), summaryColumns(by)).split("\n");
    assert.equal(lines.length, 4, by);
    assert.match(lines[0], by === "process" ? /^PID {2}COMM/ : /CONTAINER/);
  }
});

Deno.test("summary columns leave out those whose counters are unavailable; by cgroup shows the path", () => {
  const headers = (cols: ReturnType<typeof summaryColumns>) => cols.map((c) => c.header);
  assert.deepEqual(headers(summaryColumns("pod")), [
    "NAMESPACE",
    "POD",
    "CPU_S",
    "NODE_%",
    "CYCLES",
    "INSTRUCTIONS",
    "IPC",
    "LLC_MPKI",
  ]);
  const noPmu = new Set(["cycles", "instructions", "llc_misses"]);
  assert.deepEqual(headers(summaryColumns("pod", { unavailable: noPmu })), [
    "NAMESPACE",
    "POD",
    "CPU_S",
    "NODE_%",
  ]);
  assert.deepEqual(droppedColumns(noPmu), ["CYCLES", "INSTRUCTIONS", "IPC", "LLC_MPKI"]);
  // only LLC misses missing: its ratio goes, IPC stays
  assert.deepEqual(droppedColumns(new Set(["llc_misses"])), ["LLC_MPKI"]);
  assert.deepEqual(headers(summaryColumns("cgroup")).slice(0, 3), [
    "CGROUP_ID",
    "CGROUP",
    "NAMESPACE",
  ]);
});
