/** `podperf summary` on Parquet files written by the real writer, run as a user runs it. */
import assert from "@podperf/assert";
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import type { CounterInfo, FileConfig, OutputRow } from "../../lib/output/schema.ts";
import { detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import { podperf } from "./podperf.ts";

const OFFSET = 1_764_000_000_000_000_000n; // wall = mono + OFFSET: 2025-11-24T16:00:00Z + mono
const T0 = 5_000_000_000n; // first slot, mono
const MS = 1_000_000n;
const NO_PMU: CounterInfo[] = [
  { name: "cycles", source: "unavailable", detail: "ENOENT: no hardware PMU" },
  { name: "instructions", source: "unavailable", detail: "ENOENT: no hardware PMU" },
  { name: "llc_misses", source: "unavailable", detail: "ENOENT: no hardware PMU" },
  { name: "page_faults", source: "software" },
  { name: "context_switches", source: "software" },
];
const PMU: CounterInfo[] = NO_PMU.map((c) => ({
  ...c,
  source: c.source === "unavailable" ? "hardware" : c.source,
}));

function config(node: string, counters: CounterInfo[]): FileConfig {
  return {
    version: "0.0.0-cli-test",
    node,
    intervalNs: MS,
    monoToWallOffsetNs: OFFSET,
    cpus: 2,
    counters,
  };
}

type Meta = Pick<
  OutputRow,
  "podName" | "podNamespace" | "podUid" | "containerName" | "containerId" | "metaSource"
>;
const NONE: Meta = {
  podName: null,
  podNamespace: null,
  podUid: null,
  containerName: null,
  containerId: null,
  metaSource: null,
};
const WEB: Meta = {
  podName: "web-1",
  podNamespace: "shop",
  podUid: "u-web",
  containerName: "nginx",
  containerId: "c".repeat(64),
  metaSource: "nri",
};
const KUBELET: Meta = { ...NONE, containerName: "kubelet.service", metaSource: "cgroup-path" };

function row(
  slot: number,
  tgid: number,
  comm: string,
  cgroupId: bigint,
  cpuNs: number,
  meta: Meta,
  cycles: number | null = null,
): OutputRow {
  return {
    monoNs: T0 + BigInt(slot) * MS,
    tgid,
    comm,
    cgroupId,
    cpuNs,
    cycles,
    instructions: cycles === null ? null : cycles * 2,
    llcMisses: cycles === null ? null : 1,
    pageFaults: 0,
    contextSwitches: 1,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
    ...meta,
  } as OutputRow;
}

async function writeFile(path: string, cfg: FileConfig, rows: OutputRow[]): Promise<string> {
  const w = new ParquetFileWriter({ path, config: cfg });
  for (const r of rows) w.append(r);
  await w.close();
  return path;
}

// pid 100 runs two threads (an older file: rows carry thread names); the name that ran longest
// names the process.
const ROWS = [
  row(0, 100, "nginx", 300n, 400_000, WEB),
  row(0, 100, "worker-1", 300n, 100_000, WEB),
  row(1, 100, "worker-1", 300n, 150_000, WEB),
  row(1, 200, "kubelet", 400n, 300_000, KUBELET),
  row(2, 300, "sshd", 1n, 50_000, NONE),
];

async function withFiles(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("summary --by process: one line per process, named by the name that ran longest", async () => {
  await withFiles(async (dir) => {
    const f = await writeFile(`${dir}/a.parquet`, config("node-x", NO_PMU), ROWS);
    const r = await podperf(["summary", "--by", "process", f]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "cycles, instructions, llc_misses unavailable on this node (ENOENT: no hardware PMU): " +
        "CYCLES, INSTRUCTIONS, IPC, LLC_MPKI not shown",
    );
    assert.match(lines[1], /^PID\s+COMM\s+NAMESPACE\s+POD\s+CONTAINER\s+CPU_S\s+NODE_%$/);
    assert.equal(lines.length, 5, r.stdout);
    assert.match(lines[2], /^100\s+nginx\s+shop\s+web-1\s+nginx\s+0\.001\s+10\.83$/);
    assert.match(lines[3], /^200\s+kubelet\s+-\s+kubelet\.service\s+kubelet\.service\s/);
    assert.equal(lines.filter((l) => /^100\s/.test(l)).length, 1);
  });
});

Deno.test("summary --by pod names host services by their systemd unit", async () => {
  await withFiles(async (dir) => {
    const f = await writeFile(`${dir}/a.parquet`, config("node-x", NO_PMU), ROWS);
    const r = await podperf(["summary", f]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n").slice(1);
    assert.deepEqual(lines.map((l) => l.split(/\s{2,}/).slice(0, 2)), [
      ["NAMESPACE", "POD"],
      ["shop", "web-1"],
      ["-", "kubelet.service"],
      ["-", "(no pod)"],
    ]);
  });
});

Deno.test("summary keeps the counter columns when some file measured them", async () => {
  await withFiles(async (dir) => {
    const a = await writeFile(`${dir}/a.parquet`, config("node-x", NO_PMU), ROWS);
    const b = await writeFile(`${dir}/b.parquet`, config("node-y", PMU), [
      row(0, 500, "spin", 600n, 900_000, { ...WEB, podName: "spin-0", podUid: "u-spin" }, 2000),
    ]);
    const r = await podperf(["summary", a, b]);
    assert.equal(r.code, 0, r.stderr);
    const [header, first] = r.stdout.split("\n");
    assert.match(
      header,
      /^NAMESPACE\s+POD\s+CPU_S\s+NODE_%\s+CYCLES\s+INSTRUCTIONS\s+IPC\s+LLC_MPKI$/,
    );
    assert.match(first, /spin-0\s+0\.001\s+\S+\s+2000\s+4000\s+2\.00\s+0\.25$/);
  });
});

Deno.test("summary --by cgroup shows this node's cgroup paths and the inode alone for other nodes", async () => {
  const root = detectCgroup2Mount()!;
  const tag = crypto.randomUUID().slice(0, 8);
  const dirPath = `${root}/podperf-cli-${tag}.slice`;
  Deno.mkdirSync(dirPath);
  try {
    const ino = BigInt(Deno.statSync(dirPath).ino!);
    await withFiles(async (dir) => {
      const rows = [row(0, 100, "a", ino, 500_000, NONE), row(0, 101, "b", 1n, 100_000, NONE)];
      const here = await writeFile(`${dir}/here.parquet`, config(Deno.hostname(), NO_PMU), rows);
      const r = await podperf(["summary", "--by", "cgroup", here]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split("\n").slice(1);
      assert.match(lines[0], /^CGROUP_ID\s+CGROUP\s+NAMESPACE\s+POD\s+CONTAINER\s+CPU_S/);
      assert.match(
        lines[1],
        new RegExp(`^\\s*${ino}\\s+/podperf-cli-${tag}\\.slice\\s+-\\s+\\(no pod\\)`),
      );
      assert.match(lines[2], /^\s*1\s+\/\s+-/);
      const other = await writeFile(`${dir}/other.parquet`, config("elsewhere", NO_PMU), rows);
      const o = await podperf(["summary", "--by", "cgroup", "--json", other]);
      const doc = JSON.parse(o.stdout);
      assert.deepEqual(
        doc.groups.map((g: Record<string, unknown>) => [g.cgroup_id, g.cgroup_path]),
        [[String(ino), null], ["1", null]],
      );
    });
  } finally {
    Deno.removeSync(dirPath);
  }
});

Deno.test("summary --json is one snake_case document with window, counters and coverage on top", async () => {
  await withFiles(async (dir) => {
    const f = await writeFile(`${dir}/a.parquet`, config("node-x", NO_PMU), ROWS);
    const r = await podperf(["summary", "--json", "--by", "process", f]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), [
      "by",
      "window",
      "cpus",
      "counters",
      "coverage",
      "files",
      "groups",
    ]);
    assert.equal(doc.by, "process");
    // slots 0..2 of 1 ms: wall = mono + OFFSET
    assert.deepEqual(doc.window, {
      from: "2025-11-24T16:00:05.000000000Z",
      to: "2025-11-24T16:00:05.003000000Z",
      seconds: 0.003,
    });
    assert.equal(doc.counters[0].source, "unavailable");
    assert.equal(doc.counters[0].detail, "ENOENT: no hardware PMU");
    // the host service is not a pod: only web-1's 650 µs are known
    assert.deepEqual(doc.coverage, {
      rows: 5,
      known_cpu_ns: 650_000,
      unknown_cpu_ns: 350_000,
      known_cycles: 0,
      unknown_cycles: 0,
      known_cpu_percent: 65,
    });
    assert.deepEqual(doc.files, [{ path: f, rows: 5 }]);
    const g = doc.groups[0];
    assert.deepEqual(Object.keys(g), [
      "node",
      "pod_namespace",
      "pod_name",
      "pod_uid",
      "container_name",
      "container_id",
      "pid",
      "comm",
      "cgroup_id",
      "cgroup_path",
      "cpu_ns",
      "cpu_seconds",
      "node_cpu_percent",
      "cycles",
      "instructions",
      "llc_misses",
      "ipc",
      "llc_mpki",
      "rows",
    ]);
    assert.deepEqual([g.pid, g.comm, g.cgroup_id, g.cpu_ns, g.cycles], [
      100,
      "nginx",
      "300",
      650_000,
      null,
    ]);
    assert.ok(Math.abs(g.node_cpu_percent - 100 * 650_000 / 6_000_000) < 1e-9);
  });
});

Deno.test("summary --from past the data says so and what the files cover, exit 1", async () => {
  await withFiles(async (dir) => {
    const f = await writeFile(`${dir}/a.parquet`, config("node-x", NO_PMU), ROWS);
    const r = await podperf(["summary", "--from", "2026-01-01T00:00:00Z", f]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "podperf: error: no rows from 2026-01-01T00:00:00.000000000Z on: the files cover " +
        "2025-11-24T16:00:05.000000000Z to 2025-11-24T16:00:05.003000000Z\n",
    );
    const both = await podperf([
      "summary",
      "--from",
      "2020-01-01T00:00:00Z",
      "--to",
      "2020-01-02T00:00:00Z",
      f,
    ]);
    assert.equal(both.code, 1);
    assert.match(
      both.stderr,
      /^podperf: error: no rows between 2020-01-01T00:00:00\.000000000Z and 2020-01-02T00:00:00\.000000000Z: the files cover /,
    );
    // inside the window: the rows of slot 1 only
    const inside = await podperf([
      "summary",
      "--json",
      "--from",
      "2025-11-24T16:00:05.001Z",
      "--to",
      "2025-11-24T16:00:05.002Z",
      f,
    ]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(JSON.parse(inside.stdout).coverage.rows, 2);
  });
});

Deno.test("summary --by FILE is reported as a bad --by, not as a missing file", async () => {
  const r = await podperf(["summary", "--by", "out/x.parquet"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'podperf: error: --by: "out/x.parquet" is not one of pod, container, process, cgroup, node\n',
  );
});
