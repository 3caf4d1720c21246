import assert from "@podperf/assert";
import {
  formatTable,
  summarize,
  summaryColumns,
  SummaryOptionsError,
  summaryReport,
  type SummaryRow,
} from "../../lib/report/mod.ts";
import { type OutputRow, outputRow, type PodColumns } from "../../lib/output/schema.ts";
import { SlotAggregator, type SlotRow } from "../../lib/aggregate/mod.ts";
import { RecordBuilder } from "../aggregate/record_builder.ts";

const MS = 1_000_000;
const T0 = 10_000_000_000n;

const WEB: PodColumns = {
  podName: "web-1",
  podNamespace: "shop",
  podUid: "uid-web-1",
  containerName: "nginx",
  containerId: "c-nginx",
  source: "nri",
};
const WEB_SIDECAR: PodColumns = { ...WEB, containerName: "envoy", containerId: "c-envoy" };
const DB: PodColumns = {
  podName: "db-0",
  podNamespace: "shop",
  podUid: "uid-db-0",
  containerName: "postgres",
  containerId: "c-pg",
  source: "oci",
};

function row(
  slot: number,
  tgid: number,
  cgroupId: bigint,
  cpuNs: number,
  meta: PodColumns | null,
  counters: Partial<Pick<OutputRow, "cycles" | "instructions" | "llcMisses">> = {},
): OutputRow {
  return outputRow({
    monoNs: T0 + BigInt(slot * MS),
    tgid,
    comm: `p${tgid}`,
    cgroupId,
    cpuNs,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: 0,
    contextSwitches: 0,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
    ...counters,
  }, meta);
}

// 4 slots on a 2-CPU node: 8 ms of CPU capacity
const ROWS: OutputRow[] = [
  row(0, 10, 100n, 400_000, WEB, { cycles: 1000, instructions: 2500, llcMisses: 5 }),
  row(1, 10, 100n, 600_000, WEB, { cycles: 3000, instructions: 5500, llcMisses: 3 }),
  row(1, 11, 101n, 200_000, WEB_SIDECAR, { cycles: 100, instructions: 50, llcMisses: 0 }),
  row(2, 20, 200n, 1_000_000, DB, { cycles: 500, instructions: null, llcMisses: 1 }),
  row(3, 20, 200n, 1_000_000, DB, { cycles: 500, instructions: 700, llcMisses: 1 }),
  row(0, 30, 1n, 300_000, null),
  row(3, 31, 7n, 100_000, null, { cycles: 0, instructions: 0, llcMisses: 0 }),
];

const pick = (rows: SummaryRow[], ...keys: (keyof SummaryRow)[]) =>
  rows.map((r) => keys.map((k) => r[k]));

Deno.test("by pod: groups, cpu seconds, node share and sort by cpu, largest first", () => {
  const got = summarize(ROWS, { by: "pod", cpus: 2 });
  assert.deepEqual(pick(got, "podName", "cpuNs", "rows", "containerName"), [
    ["db-0", 2_000_000, 2, null],
    ["web-1", 1_200_000, 3, null],
    [null, 400_000, 2, null],
  ]);
  assert.deepEqual(got.map((r) => r.cpuSeconds), [0.002, 0.0012, 0.0004]);
  // window = 4 slots × 1 ms, × 2 CPUs = 8 ms
  assert.deepEqual(got.map((r) => r.nodeShare), [0.25, 0.15, 0.05]);
  const total = got.reduce((s, r) => s + r.cpuNs, 0);
  assert.equal(total, ROWS.reduce((s, r) => s + r.cpuNs, 0));
});

Deno.test("IPC and LLC MPKI come from summed counters and are null, not 0, when unknown", () => {
  const pods = summarize(ROWS, { by: "pod" });
  const web = pods.find((r) => r.podName === "web-1")!;
  assert.deepEqual([web.cycles, web.instructions, web.llcMisses], [4100, 8050, 8]);
  assert.equal(web.ipc, 8050 / 4100);
  assert.equal(web.llcMpki, 8 * 1000 / 8050);
  // one row of db-0 lacks instructions: the sum is unknown, so are IPC and MPKI
  const db = pods.find((r) => r.podName === "db-0")!;
  assert.deepEqual([db.cycles, db.instructions, db.ipc, db.llcMpki], [1000, null, null, null]);
  // no row of the unknown group had counters for its first row: null throughout
  const none = pods.find((r) => r.podName === null)!;
  assert.deepEqual([none.cycles, none.ipc, none.llcMpki], [null, null, null]);
  // counters known but zero: the ratios are undefined, not 0 and not Infinity
  const idle = summarize(ROWS, { by: "cgroup" }).find((r) => r.cgroupId === 7n)!;
  assert.deepEqual([idle.cycles, idle.instructions, idle.ipc, idle.llcMpki], [0, 0, null, null]);
  // without a CPU count there is no share
  assert.ok(pods.every((r) => r.nodeShare === null));
});

Deno.test("by container: one group per container id, pod columns kept as context", () => {
  const got = summarize(ROWS, { by: "container" });
  assert.deepEqual(pick(got, "podName", "containerName", "containerId", "cpuNs"), [
    ["db-0", "postgres", "c-pg", 2_000_000],
    ["web-1", "nginx", "c-nginx", 1_000_000],
    [null, null, null, 400_000],
    ["web-1", "envoy", "c-envoy", 200_000],
  ]);
});

Deno.test("by process and by cgroup: keys and their pod context", () => {
  const procs = summarize(ROWS, { by: "process" });
  assert.deepEqual(pick(procs, "tgid", "comm", "cgroupId", "podName", "cpuNs"), [
    [20, "p20", 200n, "db-0", 2_000_000],
    [10, "p10", 100n, "web-1", 1_000_000],
    [30, "p30", 1n, null, 300_000],
    [11, "p11", 101n, "web-1", 200_000],
    [31, "p31", 7n, null, 100_000],
  ]);
  const cgroups = summarize(ROWS, { by: "cgroup" });
  assert.deepEqual(pick(cgroups, "cgroupId", "tgid", "containerName"), [
    [200n, null, "postgres"],
    [100n, null, "nginx"],
    [1n, null, null],
    [101n, null, "envoy"],
    [7n, null, null],
  ]);
});

Deno.test("from/to select slots in [from, to) and set the window of the share", () => {
  const got = summarize(ROWS, {
    by: "pod",
    cpus: 2,
    from: T0 + BigInt(MS),
    to: T0 + BigInt(3 * MS),
  });
  // slots 1 and 2: web 800k, db 1M; window 2 ms × 2 CPUs
  assert.deepEqual(pick(got, "podName", "cpuNs", "nodeShare"), [
    ["db-0", 1_000_000, 0.25],
    ["web-1", 800_000, 0.2],
  ]);
  assert.deepEqual(summarize(ROWS, { by: "pod", from: T0 + 100n * BigInt(MS) }), []);
});

Deno.test("equal cpu times sort by key, so output order is stable", () => {
  const rows = [
    row(0, 2, 5n, 10, { ...DB, podName: "b" }),
    row(0, 1, 6n, 10, { ...DB, podName: "a" }),
    row(0, 3, 7n, 10, { ...DB, podName: "c", podNamespace: "a-ns" }),
  ];
  assert.deepEqual(summarize(rows, { by: "pod" }).map((r) => r.podName), ["c", "a", "b"]);
  assert.deepEqual(
    summarize(rows.toReversed(), { by: "pod" }).map((r) => r.podName),
    ["c", "a", "b"],
  );
});

Deno.test("aggregator rows joined with metadata summarize to the records' cpu time", () => {
  const slots: SlotRow[] = [];
  const agg = new SlotAggregator({ intervalNs: MS, cpus: 2, onRows: (r) => slots.push(...r) });
  const b = new RecordBuilder();
  let cpuIn = 0;
  for (let i = 1; i <= 400; i++) {
    const cpu = i % 2;
    const len = 250_000 + (i % 3) * 100_000;
    cpuIn += len;
    b.push({
      ts: T0 + BigInt(i * 400_000),
      cpuNs: len,
      cpu,
      tgid: 10 + (i % 4),
      cgroupId: i % 4 < 2 ? 100n : 200n,
      counters: [len * 2, len * 3],
      flags: 0x3,
    });
  }
  for (const off of b.offsets()) agg.add(b.view, off);
  agg.flush();
  const meta = new Map([[100n, WEB], [200n, DB]]);
  const got = summarize(slots.map((s) => outputRow(s, meta.get(s.cgroupId) ?? null)), {
    by: "pod",
    cpus: 2,
  });
  assert.equal(got.length, 2);
  assert.equal(got[0].cpuNs + got[1].cpuNs, cpuIn);
  for (const g of got) {
    assert.equal(g.cycles, g.cpuNs * 2);
    assert.ok(Math.abs(g.ipc! - 1.5) < 1e-3);
  }
});

Deno.test("bad options are refused with the option named", () => {
  for (
    const [opts, option] of [
      [{ by: "host" }, "by"],
      [{ by: "pod", cpus: 0 }, "cpus"],
      [{ by: "pod", from: 5n, to: 5n }, "to"],
    ] as const
  ) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => summarize(ROWS, opts as any),
      (e) => e instanceof SummaryOptionsError && e.option === option,
    );
  }
});

Deno.test("by pod: rows known only by pod uid (cgroup path) are their own groups", () => {
  const byPath = (uid: string): PodColumns => ({
    podName: null,
    podNamespace: null,
    podUid: uid,
    containerName: null,
    containerId: `c-${uid}`,
    source: "cgroup-path",
  });
  const rows = [
    row(0, 1, 1n, 300, byPath("u-1")),
    row(0, 2, 2n, 200, byPath("u-2")),
    row(1, 1, 1n, 100, byPath("u-1")),
    row(1, 3, 3n, 50, null),
  ];
  const out = summarize(rows, { by: "pod", cpus: 2 });
  assert.deepEqual(
    out.map((r) => [r.podUid, r.cpuNs]),
    [["u-1", 400], ["u-2", 200], [null, 50]],
  );
  const table = formatTable(out, summaryColumns("pod"));
  assert.match(table, /\(uid u-1\)/);
  assert.match(table, /\(no pod\)/);
});

Deno.test("by process: one group per pid, named by the name with the most cpu time", () => {
  const rows = [
    { ...row(0, 40, 9n, 100, WEB), comm: "main" },
    { ...row(0, 40, 9n, 300, WEB), comm: "worker" },
    { ...row(1, 40, 9n, 150, WEB), comm: "main" },
    { ...row(1, 41, 9n, 10, WEB), comm: "main" },
  ];
  const got = summarize(rows, { by: "process" });
  assert.deepEqual(pick(got, "tgid", "comm", "cpuNs", "rows"), [
    [40, "worker", 550, 3],
    [41, "main", 10, 1],
  ]);
});

Deno.test("host units: their own group by pod and by container, outside the pod coverage", () => {
  const unit = (name: string): PodColumns => ({
    podName: null,
    podNamespace: null,
    podUid: null,
    containerName: name,
    containerId: null,
    source: "cgroup-path",
  });
  const rows = [
    row(0, 50, 60n, 700, unit("kubelet.service")),
    row(0, 51, 61n, 200, unit("containerd.service")),
    row(0, 52, 1n, 50, null),
    row(0, 10, 100n, 100, WEB),
  ];
  const r = summaryReport(rows, { by: "pod" });
  assert.deepEqual(pick(r.groups, "podName", "containerName", "cpuNs"), [
    [null, "kubelet.service", 700],
    [null, "containerd.service", 200],
    ["web-1", null, 100],
    [null, null, 50],
  ]);
  assert.deepEqual(
    formatTable(r.groups, summaryColumns("pod")).split("\n").map((l) => l.split(/\s{2,}/)[1]),
    ["POD", "kubelet.service", "containerd.service", "web-1", "(no pod)", undefined],
  );
  assert.deepEqual(
    summarize(rows, { by: "container" }).map((g) => g.containerName),
    ["kubelet.service", "containerd.service", "nginx", null],
  );
  assert.deepEqual(r.coverage, {
    rows: 4,
    knownCpuNs: 100,
    unknownCpuNs: 950,
    knownCycles: 0,
    unknownCycles: 0,
  });
});

Deno.test("summaryReport: the window spans the rows' first slot to the last slot's end", () => {
  const r = summaryReport(ROWS, { by: "pod" });
  assert.deepEqual(r.window, { from: T0, to: T0 + BigInt(4 * MS) });
  assert.equal(r.coverage.rows, ROWS.length);
  assert.equal(r.coverage.knownCpuNs + r.coverage.unknownCpuNs, 3_600_000);
  assert.equal(summaryReport([], { by: "pod" }).window, null);
});

Deno.test("cgroup paths come from the lookup where it knows the id, else stay null", () => {
  const paths = new Map([[100n, "/k8s.io/web"]]);
  const got = summarize(ROWS, { by: "cgroup", cgroupPath: (id) => paths.get(id) });
  assert.deepEqual(
    got.filter((g) => g.cgroupId === 100n || g.cgroupId === 1n).map((g) => g.cgroupPath),
    ["/k8s.io/web", null],
  );
});
