/**
 * Per-group time series and `summary --every`: buckets add up to the whole-window totals
 * exactly, unknown counters stay null, and files without the scheduler columns still read.
 */
import assert from "@podperf/assert";
import { join } from "node:path";
import type { FileConfig } from "../../lib/output/schema.ts";
import { buildSeries } from "../../lib/cli/report.ts";
import { SchemaColumns, writeDemoFiles } from "../../lib/report/demo_data.ts";
import { type ReportRow, scanPodperfFiles } from "../../lib/report/row_scan.ts";
import { summarize, type SummaryBy } from "../../lib/report/summary.ts";
import { everyRows, type SeriesBy } from "../../lib/report/timeseries.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "podperf-series-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function podperf(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const sumOrNull = (rows: ReportRow[], pick: (r: ReportRow) => number | null) =>
  rows.some((r) => pick(r) === null) ? null : rows.reduce((a, r) => a + pick(r)!, 0);

Deno.test("series buckets add up exactly to the whole-window totals, by pod, container and process, for any bucket length", async () => {
  await withDir(async (dir) => {
    const demo = await writeDemoFiles({ dir, durationS: 95, intervalMs: 10, fileSeconds: 40 });
    assert.equal(demo.paths.length, 3, "several files");
    const rows: ReportRow[] = [];
    await scanPodperfFiles(demo.paths, (r) => rows.push(r));
    for (const by of ["pod", "container", "process"] as SeriesBy[]) {
      for (const everyNs of [1_000_000_000n, 7_000_000n, 60_000_000_000n]) {
        const s = await buildSeries(demo.paths, { by, everyNs });
        const totals = summarize(rows, { by: by as SummaryBy });
        assert.equal(s.groups.length, totals.length, `${by}: groups`);
        const perGroup = new Map<string, Record<string, number | null>>();
        for (const e of everyRows(s)) {
          const k = e.group;
          const acc = perGroup.get(k) ?? {
            cpuNs: 0,
            cycles: 0,
            instructions: 0,
            llcMisses: 0,
            runqDelayNs: 0,
            contextSwitches: 0,
          };
          for (const f of Object.keys(acc)) {
            const v = e[f as keyof typeof e] as number | null;
            acc[f] = acc[f] === null || v === null ? null : acc[f]! + v;
          }
          perGroup.set(k, acc);
        }
        for (const g of s.groups) {
          const t = totals.find((x) =>
            by === "process"
              ? x.tgid === g.tgid && x.comm === g.comm
              : by === "pod"
              ? x.podUid === g.podUid
              : x.containerId === g.containerId
          )!;
          const got = perGroup.get(g.label)!;
          const label = `${by} ${everyNs}: ${g.label}`;
          assert.equal(got.cpuNs, t.cpuNs, `${label} cpu_ns`);
          assert.equal(got.cycles, t.cycles, `${label} cycles`);
          assert.equal(got.instructions, t.instructions, `${label} instructions`);
          assert.equal(got.llcMisses, t.llcMisses, `${label} llc_misses`);
          const mine = rows.filter((r) =>
            by === "process"
              ? r.tgid === g.tgid
              : by === "pod"
              ? r.podUid === g.podUid
              : r.containerId === g.containerId
          );
          assert.equal(got.runqDelayNs, sumOrNull(mine, (r) => r.runqDelayNs), `${label} runq`);
          assert.equal(got.contextSwitches, sumOrNull(mine, (r) => r.contextSwitches), label);
        }
        const nodeCpu = s.node.reduce((a, n) => a + n.cpuNs, 0);
        assert.equal(nodeCpu, rows.reduce((a, r) => a + r.cpuNs, 0), "node buckets");
      }
    }
  });
});

Deno.test("summary --every 1s --json: each pod's buckets sum to summary --json's totals; text has the columns", async () => {
  await withDir(async (dir) => {
    await writeDemoFiles({ dir, durationS: 12, intervalMs: 5 });
    const every = await podperf(["summary", "--every", "1s", "--json", dir]);
    assert.equal(every.code, 0, every.stderr);
    const files = [...Deno.readDirSync(dir)].map((e) => join(dir, e.name));
    const whole = await podperf(["summary", "--json", ...files]);
    assert.equal(whole.code, 0, whole.stderr);
    const doc = JSON.parse(every.stdout) as { by: string; buckets: Record<string, unknown>[] };
    assert.equal(doc.by, "pod");
    const buckets = doc.buckets;
    const totals = (JSON.parse(whole.stdout) as { groups: Record<string, unknown>[] }).groups;
    assert.equal(new Set(buckets.map((b) => b.time)).size, 12, "12 one-second buckets");
    assert.ok(totals.length > 0);
    for (const t of totals) {
      const mine = buckets.filter((b) => b.pod_uid === t.pod_uid);
      for (const f of ["cpu_ns", "cycles", "instructions", "llc_misses"]) {
        assert.equal(
          mine.reduce((a, b) => a + Number(b[f]), 0),
          Number(t[f]),
          `${t.pod_name} ${f}`,
        );
      }
    }
    const b = buckets.find((x) => x.pod_name === "checkout")!;
    for (const f of ["cpu_share", "runq_ms_per_cpu_s", "context_switches", "ipc", "llc_mpki"]) {
      assert.equal(typeof b[f], "number", f);
    }
    const text = await podperf(["summary", "--every", "500ms", dir]);
    assert.equal(text.code, 0, text.stderr);
    const header = text.stdout.split("\n")[0];
    for (const h of ["TIME", "POD", "CPU%", "RUNQ_MS/CPU_S", "CSW", "IPC", "LLC_MPKI"]) {
      assert.ok(header.includes(h), `${h} in ${header}`);
    }
    assert.equal(
      new Set(text.stdout.split("\n").slice(1).map((l) => l.split(" ")[0])).size - 1,
      24,
    );
    const bad = await podperf(["summary", "--every", "10us", dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--every must be at least 1ms/);
    const byCgroup = await podperf(["summary", "--every", "1s", "--by", "cgroup", dir]);
    assert.equal(byCgroup.code, 2);
  });
});

const CONFIG: FileConfig = {
  version: "0.0.0-series-test",
  node: "n",
  intervalNs: 1_000_000n,
  monoToWallOffsetNs: 1_700_000_000_000_000_000n,
  cpus: 2,
  counters: [],
};

// one row of an older file (no scheduler columns), as column name → value
function row(slot: number, cycles: number | null): Record<string, unknown> {
  const mono = 10_000_000_000n + BigInt(slot) * 1_000_000n;
  return {
    ts: mono + CONFIG.monoToWallOffsetNs,
    mono_ns: mono,
    interval_ns: CONFIG.intervalNs,
    node: "n",
    pid: 7,
    comm: "app",
    cgroup_id: 70n,
    cpu_ns: 500_000n,
    cycles: cycles === null ? null : BigInt(cycles),
    instructions: cycles === null ? null : BigInt(2 * cycles),
    llc_misses: null,
    page_faults: 0n,
    context_switches: 1n,
    scaled: false,
    records: 1,
    pod_name: "p",
    pod_namespace: "ns",
    pod_uid: "u",
    container_name: "c",
    container_id: "cid",
    meta_source: "nri",
  };
}

Deno.test("files without the scheduler columns read; a counter missing in one row makes only its bucket null", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.parquet");
    const cols = new SchemaColumns({ schedulerColumns: false });
    // 3 s of rows; one row without cycles in the second second
    for (let i = 0; i < 3000; i++) cols.push(row(i, i === 1500 ? null : 1000));
    const coverage = {
      rows: 3000,
      knownCpuNs: 1.5e9,
      unknownCpuNs: 0,
      knownCycles: 0,
      unknownCycles: 0,
    };
    await Deno.writeFile(path, new Uint8Array(cols.encode(CONFIG, coverage)));
    const s = await buildSeries([path], { by: "pod", everyNs: 1_000_000_000n });
    assert.equal(s.hasRunq, false);
    assert.equal(s.hasCarried, false);
    assert.equal(s.bucketCount, 3);
    const rows = everyRows(s);
    assert.deepEqual(rows.map((r) => r.cycles), [1_000_000, null, 1_000_000]);
    assert.deepEqual(rows.map((r) => r.ipc), [2, null, 2]);
    assert.deepEqual(rows.map((r) => r.runqDelayNs), [null, null, null]);
    assert.deepEqual(rows.map((r) => r.cpuShare), [0.25, 0.25, 0.25]);
    assert.deepEqual(s.node.map((n) => n.carriedRows), [null, null, null]);
    const text = await podperf(["summary", "--every", "1s", path]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /run-queue delay: not in these files/);
  });
});

Deno.test("report and summary --every: unreadable input is one line naming it, exit 1; no input is exit 2", async () => {
  await withDir(async (dir) => {
    const notParquet = join(dir, "notes.parquet");
    await Deno.writeTextFile(notParquet, "not parquet");
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    const cases: [string[], number, RegExp][] = [
      [["report", join(dir, "missing")], 1, /cannot read .*missing/],
      [["report", notParquet, "-o", join(dir, "r.html")], 1, /cannot read .*notes\.parquet/],
      [["report", empty], 1, /no \*\.parquet files in .*empty/],
      [["report"], 2, /give Parquet files or a directory/],
      [["report", empty, "--every", "1us"], 2, /--every must be at least 1ms/],
      [["summary", "--every", "1s", notParquet], 1, /cannot read .*notes\.parquet/],
    ];
    for (const [args, code, re] of cases) {
      const r = await podperf(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], re);
    }
    // nothing half-written is left where the page would go
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "empty",
      "notes.parquet",
    ]);
  });
});
