import assert from "@podperf/assert";
import {
  type ContainerLiveness,
  type CounterAvailability,
  PodSeries,
} from "../../lib/metrics/mod.ts";
import type { OutputRow } from "../../lib/output/schema.ts";
import { promtool } from "./prometheus_server.ts";

const SOFT_ONLY: CounterAvailability[] = [
  { name: "cycles", source: "unavailable" },
  { name: "instructions", source: "unavailable" },
  { name: "llc_misses", source: "unavailable" },
  { name: "page_faults", source: "software" },
  { name: "context_switches", source: "software" },
];
const WITH_PMU: CounterAvailability[] = SOFT_ONLY.map((c) =>
  c.source === "unavailable" ? { ...c, source: "hardware" } : c
);

function row(over: Partial<OutputRow> & { runqDelayNs?: number; runqWaits?: number }) {
  return {
    monoNs: 0n,
    tgid: 100,
    comm: "spin",
    cgroupId: 1n,
    cpuNs: 1_000_000,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: 2,
    contextSwitches: 1,
    scaled: false,
    records: 1,
    podName: "web-1",
    podNamespace: "shop",
    podUid: "uid-1",
    containerName: "app",
    containerId: "c1",
    metaSource: "nri",
    ...over,
  } as OutputRow;
}

/** `name{labels} value` lines of a family, as a map from label text to value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}(\\{.*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? "", Number(m[2]));
  }
  return out;
}

Deno.test("pod series: rows fold per container in base units; rows outside pods are skipped", () => {
  const s = new PodSeries({ node: "n1", counters: SOFT_ONLY });
  s.append([
    row({}),
    row({ tgid: 101, cpuNs: 500_000_000, pageFaults: null }),
    row({ cgroupId: 2n, containerName: "side", containerId: "c2", cpuNs: 3_000 }),
    row({ podName: null, podNamespace: null, podUid: null, containerName: null }),
  ]);
  const text = s.renderMetrics();
  const cpu = samples(text, "podperf_pod_cpu_seconds_total");
  assert.deepEqual(
    [...cpu],
    [
      ['{namespace="shop",pod="web-1",container="app",node="n1"}', 0.501],
      ['{namespace="shop",pod="web-1",container="side",node="n1"}', 0.000003],
    ],
  );
  // A row whose counter was not valid adds nothing (not a zero, not a guess).
  assert.equal(
    samples(text, "podperf_pod_page_faults_total").get(
      '{namespace="shop",pod="web-1",container="app",node="n1"}',
    ),
    2,
  );
  assert.equal(
    samples(text, "podperf_pod_context_switches_total").get(
      '{namespace="shop",pod="web-1",container="app",node="n1"}',
    ),
    2,
  );
  assert.equal(s.stats().series, 2);
});

Deno.test("pod series: hardware families are absent without a PMU, present with one", () => {
  const none = new PodSeries({ node: "n", counters: SOFT_ONLY });
  none.append([row({})]);
  const t1 = none.renderMetrics();
  for (const f of ["cycles", "instructions", "llc_misses"]) {
    assert.doesNotMatch(t1, new RegExp(`podperf_pod_${f}_total`), f);
  }
  const pmu = new PodSeries({ node: "n", counters: WITH_PMU });
  pmu.append([row({ cycles: 3000, instructions: 6000, llcMisses: 7 })]);
  const t2 = pmu.renderMetrics();
  assert.equal([...samples(t2, "podperf_pod_instructions_total").values()][0], 6000);
  assert.equal([...samples(t2, "podperf_pod_llc_misses_total").values()][0], 7);
  // No run-queue fields in the rows: no run-queue families (absent, not 0).
  assert.doesNotMatch(t2, /runqueue/);
});

Deno.test("pod series: run-queue families appear once rows carry the fields", () => {
  const s = new PodSeries({ node: "n", counters: SOFT_ONLY });
  s.append([row({ runqDelayNs: 2_500_000, runqWaits: 3 }), row({ runqDelayNs: 0, runqWaits: 0 })]);
  const t = s.renderMetrics();
  assert.equal([...samples(t, "podperf_pod_runqueue_delay_seconds_total").values()][0], 0.0025);
  assert.equal([...samples(t, "podperf_pod_runqueue_waits_total").values()][0], 3);
});

Deno.test("pod series: per process behind the option; label values escaped", () => {
  const s = new PodSeries({ node: "n", counters: SOFT_ONLY, byProcess: true });
  s.append([row({ comm: 'a"b\\c\nd' }), row({ comm: "nginx" }), row({ comm: "nginx" })]);
  const cpu = samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total");
  assert.deepEqual([...cpu.keys()], [
    '{namespace="shop",pod="web-1",container="app",node="n",process="a\\"b\\\\c\\nd"}',
    '{namespace="shop",pod="web-1",container="app",node="n",process="nginx"}',
  ]);
  assert.equal(cpu.get([...cpu.keys()][1]), 0.002);
});

Deno.test("pod series: the series bound holds and what it refuses is counted", () => {
  const s = new PodSeries({ node: "n", counters: SOFT_ONLY, maxSeries: 3 });
  const rows = Array.from(
    { length: 5 },
    (_, i) => row({ cgroupId: BigInt(i), podName: `p${i}`, containerId: `c${i}`, cpuNs: 1e9 }),
  );
  s.append(rows);
  s.append(rows);
  const t = s.renderMetrics();
  assert.equal(samples(t, "podperf_pod_cpu_seconds_total").size, 3);
  assert.equal([...samples(t, "podperf_pod_series_dropped_rows_total").values()][0], 4);
  assert.equal([...samples(t, "podperf_pod_series_dropped_cpu_seconds_total").values()][0], 4);
  assert.equal([...samples(t, "podperf_pod_series").values()][0], 3);
});

Deno.test("pod series: a removed container's series goes after the grace period, a live idle one stays", () => {
  let now = 0;
  const state = new Map<string, ContainerLiveness>([["c1", "live"], ["c2", "live"]]);
  const s = new PodSeries({
    node: "n",
    counters: SOFT_ONLY,
    gracePeriodMs: 10_000,
    idleMs: 60_000,
    liveness: (id) => state.get(id) ?? "unknown",
    now: () => now,
  });
  s.append([row({}), row({ cgroupId: 2n, podName: "idle", containerId: "c2" })]);
  now = 5_000;
  s.append([row({})]);
  state.set("c1", "removed");
  now = 6_000;
  assert.equal(s.sweep(), 0);
  now = 15_999; // 10 s after the last row (5 s) would be 15 s, but removal was seen at 6 s
  assert.equal(s.sweep(), 0);
  now = 16_000;
  assert.equal(s.sweep(), 1);
  now = 1_000_000; // the live idle pod is kept however long it idles
  assert.equal(s.sweep(), 0);
  assert.deepEqual([...samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total").keys()], [
    '{namespace="shop",pod="idle",container="app",node="n"}',
  ]);
  // The runtime forgot it (expired from the store): idle rule applies.
  state.delete("c2");
  assert.equal(s.sweep(), 1);
  assert.equal(s.stats().expired, 2);
  // Rows of the same pod after expiry start a new series from zero (a counter reset).
  s.append([row({ cpuNs: 7 })]);
  assert.equal([...samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total").values()][0], 7e-9);
});

Deno.test("pod series: expired series leave no cgroup shortcut behind (pods churning for hours)", () => {
  for (const byProcess of [false, true]) {
    let now = 0;
    const removed = new Set<string>();
    const s = new PodSeries({
      node: "n",
      counters: SOFT_ONLY,
      byProcess,
      gracePeriodMs: 10_000,
      liveness: (id) => removed.has(id) ? "removed" : "live",
      now: () => now,
    });
    // a pod a second, each in its own cgroup, removed a second later; one pod lives throughout
    for (let i = 0; i < 2_000; i++, now += 1_000) {
      s.append([
        row({ cgroupId: 1n, podName: "stays", containerId: "stays" }),
        row({ cgroupId: BigInt(100 + i), podName: `churn-${i}`, containerId: `c${i}` }),
      ]);
      if (i > 0) removed.add(`c${i - 1}`);
    }
    now += 60_000;
    removed.add("c1999");
    s.sweep();
    s.sweep(now += 11_000);
    const st = s.stats();
    assert.equal(st.series, 1, `byProcess ${byProcess}`);
    assert.equal(st.expired, 2_000);
    // before: every churned pod's shortcut (and through it its series) stayed until 40,000
    assert.equal(st.cgroups, 1, `byProcess ${byProcess}: ${st.cgroups} cgroup shortcuts kept`);
    // the live pod's rows still land in its series, through a rebuilt shortcut
    s.append([row({ cgroupId: 1n, podName: "stays", containerId: "stays", cpuNs: 5 })]);
    assert.equal(s.stats().series, 1);
    assert.equal(s.stats().cgroups, 1);
  }
});

Deno.test("pod series: a restarted container (new id, same labels) keeps its series", () => {
  let now = 0;
  const state = new Map<string, ContainerLiveness>([["c1", "removed"], ["c9", "live"]]);
  const s = new PodSeries({
    node: "n",
    counters: SOFT_ONLY,
    gracePeriodMs: 10,
    liveness: (id) => state.get(id) ?? "unknown",
    now: () => now,
  });
  s.append([row({})]);
  now = 5;
  s.sweep();
  s.append([row({ cgroupId: 9n, containerId: "c9" })]);
  now = 100;
  assert.equal(s.sweep(), 0);
  assert.equal([...samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total").values()][0], 0.002);
});

Deno.test("pod series: promtool check metrics finds nothing to say about the text", async () => {
  const s = new PodSeries({ node: "n1", counters: WITH_PMU, byProcess: true });
  s.append([
    row({ cycles: 10, instructions: 20, llcMisses: 1, runqDelayNs: 5, runqWaits: 1 }),
    row({ cgroupId: 3n, podName: "db-0", podNamespace: "data", containerName: "pg", comm: "x\ny" }),
  ]);
  const text = s.renderMetrics();
  const r = await promtool(["check", "metrics"], text);
  assert.equal(r.code, 0, r.output);
  assert.equal(r.output.trim(), "", r.output);
});

Deno.test("pod series: a malformed row is counted, never thrown into the drain loop", () => {
  const s = new PodSeries({ node: "n", counters: SOFT_ONLY });
  const broken = row({});
  Object.defineProperty(broken, "cpuNs", {
    get() {
      throw new Error("bad row");
    },
  });
  assert.doesNotThrow(() => s.append([row({}), broken]));
  assert.equal(s.stats().errors, 1);
  s.append([row({})]);
  assert.equal([...samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total").values()][0], 0.002);
});

Deno.test("pod series: the data-end gauge is the latest slot's end in wall-clock seconds", () => {
  const s = new PodSeries({
    node: "n",
    counters: SOFT_ONLY,
    intervalNs: 1_000_000n,
    monoToWallOffsetNs: 1_700_000_000_000_000_000n,
  });
  assert.doesNotMatch(s.renderMetrics(), /data_end/, "no gauge before any row");
  s.append([row({ monoNs: 5_000_000n }), row({ monoNs: 7_000_000n })]);
  s.append([row({ monoNs: 6_000_000n })]); // an older batch does not move it back
  const t = s.renderMetrics();
  assert.equal(
    [...samples(t, "podperf_pod_series_data_end_timestamp_seconds").values()][0],
    1_700_000_000.008,
  );
});

Deno.test("pod series: the data-end gauge follows a wall clock that moved since start", () => {
  // A stepped wall clock (or a VM resumed after a pause) moves CLOCK_REALTIME − CLOCK_MONOTONIC:
  // with the offset of the start, the gauge would place the data before their time by the step.
  let offset = 1_700_000_000_000_000_000n;
  const s = new PodSeries({
    node: "n",
    counters: SOFT_ONLY,
    intervalNs: 1_000_000n,
    monoToWallOffsetNs: () => offset,
  });
  s.append([row({ monoNs: 5_000_000n })]);
  const gauge = () =>
    [...samples(s.renderMetrics(), "podperf_pod_series_data_end_timestamp_seconds").values()][0];
  assert.equal(gauge(), 1_700_000_000.006);
  offset += 1_800_000_000n; // the wall clock jumped 1.8 s ahead
  assert.equal(gauge(), 1_700_000_001.806);
});

Deno.test("pod series: a fallback's labels replaced by NRI's end after the grace period", () => {
  let now = 0;
  const s = new PodSeries({
    node: "n",
    counters: SOFT_ONLY,
    gracePeriodMs: 10_000,
    liveness: () => "live",
    now: () => now,
  });
  // First rows named from the cgroup path (uid only), then NRI names the same cgroup.
  s.append([
    row({ podName: null, podNamespace: null, containerName: null, metaSource: "cgroup-path" }),
  ]);
  now = 1_000;
  s.append([row({})]);
  const pods = () => [...samples(s.renderMetrics(), "podperf_pod_cpu_seconds_total").keys()];
  assert.equal(pods().length, 2);
  now = 9_999;
  assert.equal(s.sweep(), 0);
  now = 10_000; // 10 s after the uid-only series' last row; the named one stays (live)
  assert.equal(s.sweep(), 1);
  assert.deepEqual(pods(), ['{namespace="shop",pod="web-1",container="app",node="n"}']);
});
