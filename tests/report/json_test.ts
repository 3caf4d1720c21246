import assert from "@podperf/assert";
import {
  formatJson,
  formatJsonLines,
  isoFromNs,
  summarize,
  summaryJson,
} from "../../lib/report/mod.ts";

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

Deno.test("wall-clock ns print as ISO 8601 with nine fraction digits", () => {
  assert.equal(isoFromNs(0n), "1970-01-01T00:00:00.000000000Z");
  assert.equal(isoFromNs(1_764_000_000_123_456_789n), "2025-11-24T16:00:00.123456789Z");
  assert.equal(isoFromNs(1_764_000_000_000_000_001n), "2025-11-24T16:00:00.000000001Z");
});

Deno.test("a summary document is snake_case with window, counters and coverage on top", () => {
  const groups = summarize([{
    monoNs: 1_764_000_000_000_000_000n,
    tgid: 7,
    comm: "app",
    cgroupId: 2n ** 64n - 2n,
    cpuNs: 500_000,
    cycles: null,
    instructions: null,
    llcMisses: null,
    podName: "p",
    podNamespace: "ns",
    podUid: "u",
    containerName: "c",
    containerId: "id",
  }], { by: "process", cpus: 1 });
  const doc = JSON.parse(summaryJson({
    by: "process",
    window: { from: 1_764_000_000_000_000_000n, to: 1_764_000_000_001_000_000n },
    cpus: 1,
    counters: [{ name: "cycles", source: "unavailable", detail: "no PMU" }, {
      name: "page_faults",
      source: "software",
    }],
    coverage: { rows: 1, knownCpuNs: 500_000, unknownCpuNs: 0, knownCycles: 0, unknownCycles: 0 },
    groups,
  }, { files: [{ path: "a.parquet", rows: 1 }] }));
  assert.deepEqual(doc, {
    by: "process",
    window: {
      from: "2025-11-24T16:00:00.000000000Z",
      to: "2025-11-24T16:00:00.001000000Z",
      seconds: 0.001,
    },
    cpus: 1,
    counters: [
      { name: "cycles", source: "unavailable", detail: "no PMU" },
      { name: "page_faults", source: "software", detail: null },
    ],
    coverage: {
      rows: 1,
      known_cpu_ns: 500_000,
      unknown_cpu_ns: 0,
      known_cycles: 0,
      unknown_cycles: 0,
      known_cpu_percent: 100,
    },
    files: [{ path: "a.parquet", rows: 1 }],
    groups: [{
      node: null,
      pod_namespace: "ns",
      pod_name: "p",
      pod_uid: "u",
      container_name: "c",
      container_id: "id",
      pid: 7,
      comm: "app",
      cgroup_id: "18446744073709551614",
      cgroup_path: null,
      cpu_ns: 500_000,
      cpu_seconds: 0.0005,
      node_cpu_percent: 50,
      cycles: null,
      instructions: null,
      llc_misses: null,
      ipc: null,
      llc_mpki: null,
      rows: 1,
    }],
  });
});
