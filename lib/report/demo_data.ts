/**
 * Demo data: Parquet files in podperf's schema for a node with a hardware PMU and planted
 * interference, for the report's tests, its benchmark and for trying the report on a machine
 * without a PMU. Deterministic for a seed.
 *
 * Planted: `batch/encoder` (a CPU hog) runs in episodes that raise `shop/checkout`'s run-queue
 * delay; `analytics/scanner` thrashes the LLC in other episodes that raise `db/postgres`'s CPI.
 * Every other pod varies on its own (noise, a periodic spike) and touches nobody.
 */
import { parquetWriteBuffer } from "hyparquet-writer";
import type { SchemaElement } from "hyparquet";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { join } from "node:path";
import {
  type CounterInfo,
  type Coverage,
  emptyCoverage,
  type FileConfig,
  fileMetadata,
  PARQUET_SCHEMA,
} from "../output/schema.ts";

/** The interference the demo plants: the report must name `suspect` for `victim`. */
export const DEMO_PLANTED = [
  { victim: "shop/checkout", suspect: "batch/encoder", kind: "runq" },
  { victim: "db/postgres", suspect: "analytics/scanner", kind: "cpi" },
] as const;

/** Options of writeDemoFiles(). */
export interface DemoOptions {
  dir: string;
  /** seconds of data (default 300) */
  durationS?: number;
  /** slot length in ms (default 100; podperf's own default is 1) */
  intervalMs?: number;
  /** seconds per file (default 600, like `--rotate-age 10m`) */
  fileSeconds?: number;
  /** pods besides the planted and background ones, each a small noisy load (default 0) */
  extraPods?: number;
  seed?: number;
  node?: string;
  /** wall clock of the first slot, ns (default 2026-11-29T12:00:00Z) */
  startWallNs?: bigint;
  /** a node with a hardware PMU: cycles, instructions, LLC misses (default true; else NULL) */
  pmu?: boolean;
  /** write `runq_delay_ns`, `runq_waits`, `carried` (default true; false = an older file) */
  schedulerColumns?: boolean;
}

/** What writeDemoFiles() wrote. */
export interface DemoFiles {
  paths: string[];
  rows: number;
  bytes: number;
}

interface DemoPod {
  namespace: string | null;
  name: string | null;
  comm: string;
  tgid: number;
  cgroupId: bigint;
  /** CPUs used at second t */
  cpu: (t: number, rnd: () => number) => number;
  /** instructions per cycle at second t */
  ipc: (t: number) => number;
  /** LLC misses per 1000 instructions at second t */
  mpki: (t: number) => number;
  /** ms waited runnable per CPU-second at second t */
  runq: (t: number) => number;
  /** context switches per CPU-second */
  cswPerCpuS: number;
}

const CPUS = 4;
const GHZ = 2.5;
// episodes: the hog runs 30 s of every 90 s, the scanner thrashes 30 s of every 120 s (offset so
// the two overlap only now and then, as independent neighbours would)
const hogOn = (t: number) => t % 90 >= 30 && t % 90 < 60;
const thrashOn = (t: number) => t % 120 >= 70 && t % 120 < 100;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function demoPods(extra: number, rnd: () => number): DemoPod[] {
  let id = 5000n, pid = 2000;
  const pod = (
    ns: string | null,
    name: string | null,
    comm: string,
    p: Omit<DemoPod, "namespace" | "name" | "comm" | "tgid" | "cgroupId">,
  ): DemoPod => ({ namespace: ns, name, comm, tgid: pid++, cgroupId: id++, ...p });
  const pods = [
    pod("batch", "encoder", "ffmpeg", {
      cpu: (t, r) => hogOn(t) ? 1.85 + 0.1 * r() : 0.02 * r(),
      ipc: () => 2.1,
      mpki: () => 0.8,
      runq: () => 4,
      cswPerCpuS: 20,
    }),
    pod("shop", "checkout", "checkout", {
      cpu: (_t, r) => 0.35 + 0.1 * r(),
      ipc: () => 1.2,
      mpki: () => 1.5,
      runq: (t) => hogOn(t) ? 55 : 2,
      cswPerCpuS: 2500,
    }),
    pod("analytics", "scanner", "scanner", {
      cpu: (_t, r) => 0.7 + 0.1 * r(),
      ipc: (t) => thrashOn(t) ? 0.35 : 1.1,
      mpki: (t) => thrashOn(t) ? 45 : 2,
      runq: () => 3,
      cswPerCpuS: 100,
    }),
    pod("db", "postgres", "postgres", {
      cpu: (_t, r) => 0.55 + 0.1 * r(),
      ipc: (t) => thrashOn(t) ? 0.8 : 1.6,
      mpki: (t) => thrashOn(t) ? 4 : 1,
      runq: () => 3,
      cswPerCpuS: 900,
    }),
    pod("monitoring", "prometheus", "prometheus", {
      // a scrape every 15 s: a spike that must survive downsampling and implicate nobody
      cpu: (t, r) => (t % 15 < 1 ? 0.9 : 0.08) + 0.02 * r(),
      ipc: () => 1.3,
      mpki: () => 3,
      runq: () => 3,
      cswPerCpuS: 400,
    }),
    pod("kube-system", "coredns", "coredns", {
      cpu: (_t, r) => 0.03 + 0.02 * r(),
      ipc: () => 1.0,
      mpki: () => 2,
      runq: () => 3,
      cswPerCpuS: 3000,
    }),
    pod(null, null, "containerd", {
      cpu: (_t, r) => 0.04 + 0.02 * r(),
      ipc: () => 0.9,
      mpki: () => 2.5,
      runq: () => 2,
      cswPerCpuS: 1500,
    }),
  ];
  for (let i = 0; i < extra; i++) {
    const base = 0.01 + 0.05 * rnd();
    const ipc = 0.8 + rnd();
    pods.push(pod(`team-${i % 7}`, `svc-${i}`, `svc-${i}`, {
      cpu: (_t, r) => base * (0.5 + r()),
      ipc: () => ipc,
      mpki: () => 2,
      runq: () => 3,
      cswPerCpuS: 500,
    }));
  }
  return pods;
}

const COUNTERS: CounterInfo[] = [
  { name: "cycles", source: "hardware" },
  { name: "instructions", source: "hardware" },
  { name: "llc_misses", source: "hardware" },
  { name: "page_faults", source: "software" },
  { name: "context_switches", source: "software" },
];

// Columns the sampler adds today; written here whether or not PARQUET_SCHEMA has them yet, so
// the report can be tried on them before and after they land.
const SCHEDULER_COLUMNS: SchemaElement[] = [
  { name: "runq_delay_ns", type: "INT64", repetition_type: "REQUIRED" },
  { name: "runq_waits", type: "INT32", repetition_type: "REQUIRED" },
  { name: "carried", type: "BOOLEAN", repetition_type: "REQUIRED" },
];

/** Column arrays of one file, filled row by row with values keyed by column name. */
export class SchemaColumns {
  readonly data = new Map<string, unknown[]>();
  readonly names: readonly string[];
  readonly schema: SchemaElement[];

  /** PARQUET_SCHEMA's columns plus the scheduler columns (or without them: an older file). */
  constructor(opts: { schedulerColumns?: boolean } = {}) {
    const sched = new Set(SCHEDULER_COLUMNS.map((e) => e.name));
    const have = new Set(PARQUET_SCHEMA.map((e) => e.name));
    const columns = opts.schedulerColumns === false
      ? PARQUET_SCHEMA.slice(1).filter((e) => !sched.has(e.name))
      : [...PARQUET_SCHEMA.slice(1), ...SCHEDULER_COLUMNS.filter((e) => !have.has(e.name))];
    this.schema = [{ ...PARQUET_SCHEMA[0], num_children: columns.length }, ...columns];
    this.names = columns.map((e) => e.name);
    for (const n of this.names) this.data.set(n, []);
  }

  /** Adds one row; INT64 values as bigint, nullable ones may be null. */
  push(values: Record<string, unknown>): void {
    for (const n of this.names) {
      if (!(n in values)) throw new Error(`demo data has no value for column ${n}`);
      this.data.get(n)!.push(values[n]);
    }
  }

  get length(): number {
    return this.data.get(this.names[0])!.length;
  }

  /** The Parquet file's bytes (ZSTD, podperf's key/value metadata). */
  encode(config: FileConfig, coverage: Coverage): ArrayBuffer {
    const params = { [zlibConstants.ZSTD_c_compressionLevel]: 3 };
    return parquetWriteBuffer({
      schema: this.schema,
      columnData: this.names.map((name) => ({ name, data: this.data.get(name)! })),
      codec: "ZSTD",
      compressors: { ZSTD: (input: Uint8Array) => zstdCompressSync(input, { params }) },
      rowGroupSize: 16_384,
      statistics: false,
      kvMetadata: fileMetadata(config, coverage),
      createdBy: "podperf demo",
    });
  }
}

/**
 * Writes the demo files (one per `fileSeconds`) into `dir` and returns their paths.
 *
 * @example
 * const { paths } = await writeDemoFiles({ dir, durationS: 180 });
 */
export async function writeDemoFiles(opts: DemoOptions): Promise<DemoFiles> {
  const durationS = opts.durationS ?? 300;
  const intervalMs = opts.intervalMs ?? 100;
  const fileSeconds = opts.fileSeconds ?? 600;
  const rnd = mulberry32(opts.seed ?? 13);
  const pmu = opts.pmu ?? true;
  const pods = demoPods(opts.extraPods ?? 0, rnd);
  const intervalNs = BigInt(Math.round(intervalMs * 1e6));
  const startWall = opts.startWallNs ?? 1_795_953_600_000_000_000n; // 2026-11-29T12:00:00Z
  const monoStart = 1_000_000_000_000n;
  const offset = startWall - monoStart;
  const config: FileConfig = {
    version: "demo",
    node: opts.node ?? "demo-node",
    intervalNs,
    monoToWallOffsetNs: offset,
    counters: pmu
      ? COUNTERS
      : COUNTERS.map((c) =>
        c.source === "hardware"
          ? { name: c.name, source: "unavailable" as const, detail: "no hardware PMU" }
          : c
      ),
    cpus: CPUS,
  };
  const slots = Math.round(durationS * 1e3 / intervalMs);
  const slotsPerFile = Math.max(1, Math.round(fileSeconds * 1e3 / intervalMs));
  const slotS = intervalMs / 1e3;
  const out: DemoFiles = { paths: [], rows: 0, bytes: 0 };
  await Deno.mkdir(opts.dir, { recursive: true });
  for (let f0 = 0; f0 < slots; f0 += slotsPerFile) {
    const cols = new SchemaColumns({ schedulerColumns: opts.schedulerColumns });
    const cov = emptyCoverage();
    for (let s = f0; s < Math.min(slots, f0 + slotsPerFile); s++) {
      const t = Math.floor(s * slotS);
      const mono = monoStart + BigInt(s) * intervalNs;
      for (const p of pods) {
        const cpuNs = Math.round(Math.min(1, p.cpu(t, rnd) / CPUS) * CPUS * intervalMs * 1e6);
        if (cpuNs <= 0) continue;
        const cycles = Math.round(cpuNs * GHZ * (0.97 + 0.06 * rnd()));
        const instructions = Math.round(cycles * p.ipc(t) * (0.95 + 0.1 * rnd()));
        const llc = Math.round(instructions * p.mpki(t) / 1000 * (0.9 + 0.2 * rnd()));
        const runq = Math.round(cpuNs * p.runq(t) / 1000 * (0.8 + 0.4 * rnd()));
        const known = p.name !== null;
        // a record that absorbed a lost stretch, now and then
        const carried = rnd() < 0.0005;
        cov.rows++;
        if (carried) cov.rowsCarried++;
        if (known) {
          cov.knownCpuNs += cpuNs;
          cov.knownCycles += pmu ? cycles : 0;
        } else {
          cov.unknownCpuNs += cpuNs;
          cov.unknownCycles += pmu ? cycles : 0;
        }
        cols.push({
          ts: mono + offset,
          mono_ns: mono,
          interval_ns: intervalNs,
          node: config.node,
          pid: p.tgid,
          comm: p.comm,
          cgroup_id: p.cgroupId,
          cpu_ns: BigInt(cpuNs),
          cycles: pmu ? BigInt(cycles) : null,
          instructions: pmu ? BigInt(instructions) : null,
          llc_misses: pmu ? BigInt(llc) : null,
          page_faults: BigInt(Math.round(rnd() * 3)),
          context_switches: BigInt(Math.round(p.cswPerCpuS * cpuNs / 1e9 + rnd())),
          scaled: false,
          records: 1 + Math.round(cpuNs / 50_000),
          pod_name: p.name,
          pod_namespace: p.namespace,
          pod_uid: p.name === null ? null : `uid-${p.namespace}-${p.name}`,
          container_name: p.name === null ? null : p.comm,
          container_id: p.name === null ? null : `cid-${p.cgroupId}`,
          meta_source: p.name === null ? null : "nri",
          runq_delay_ns: BigInt(runq),
          runq_waits: Math.round(p.cswPerCpuS * cpuNs / 2e9),
          carried,
        });
      }
    }
    const buf = cols.encode(config, cov);
    const path = join(
      opts.dir,
      `podperf-${config.node}-demo-${String(out.paths.length).padStart(4, "0")}.parquet`,
    );
    await Deno.writeFile(path, new Uint8Array(buf));
    out.paths.push(path);
    out.rows += cols.length;
    out.bytes += buf.byteLength;
  }
  return out;
}

if (import.meta.main) {
  // deno run -A lib/report/demo_data.ts DIR [SECONDS] [SLOT_MS] [EXTRA_PODS]
  const [dir, s, ms, extra] = Deno.args;
  if (!dir) {
    console.error("usage: demo_data.ts DIR [SECONDS=300] [SLOT_MS=100] [EXTRA_PODS=0]");
    Deno.exit(2);
  }
  const r = await writeDemoFiles({
    dir,
    durationS: Number(s ?? 300),
    intervalMs: Number(ms ?? 100),
    extraPods: Number(extra ?? 0),
  });
  console.log(`${r.rows} rows in ${r.paths.length} file(s) under ${dir}`);
}
