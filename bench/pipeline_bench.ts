/**
 * The whole userspace path on one core, kernel bypassed: generated ring-ordered records →
 * SlotAggregator → metadata join → rotating Parquet writer on disk. This is the ceiling the
 * real ring reader feeds (see sampler_bench for the drain itself). The busy time is split
 * into aggregation (with record generation excluded), join and Parquet writing.
 *
 * Run: deno run -A bench/pipeline_bench.ts [--rounds=3]  (median of rounds per case)
 */
import { SlotAggregator } from "../lib/aggregate/mod.ts";
import { SlotJoiner } from "../lib/collect/join.ts";
import { MetadataStore } from "../lib/metadata/mod.ts";
import { MetadataResolver } from "../lib/metadata/resolver.ts";
import { RotatingParquetWriter } from "../lib/output/mod.ts";
import { RECORD_SIZE } from "../lib/sampler/record.ts";
import { type Case, Stream } from "./aggregate_bench.ts";

async function runCase(c: Case): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "podperf-pipeline-" });
  try {
    const store = new MetadataStore();
    // Half the cgroups belong to pods, as on a busy node; the rest resolve to nothing.
    for (let i = 0; i < 20; i++) {
      store.upsert({
        containerId: `c${i}`,
        podName: `pod-${i}`,
        podNamespace: "bench",
        podUid: `uid-${i}`,
        containerName: "main",
        image: null,
        sandbox: false,
        podId: `p${i}`,
        cgroupsPath: null,
        labels: {},
        annotations: {},
        cgroupId: BigInt(1000 + i),
      });
    }
    const joiner = new SlotJoiner(new MetadataResolver({ store }));
    const writer = new RotatingParquetWriter({
      dir,
      prefix: "bench",
      maxBytes: 64 << 20,
      maxAgeMs: 3_600_000,
      metadata: {
        version: "bench",
        node: "bench",
        intervalNs: 1_000_000n,
        monoToWallOffsetNs: 0n,
        cpus: 2,
        counters: [],
      },
    });
    // time inside the join and the writer, so the table can say where the path spends it
    let joinMs = 0, writeMs = 0;
    const agg = new SlotAggregator({
      intervalNs: 1_000_000,
      cpus: c.cpus,
      onRows: (rows) => {
        const t0 = performance.now();
        const out = joiner.join(rows);
        const t1 = performance.now();
        writer.appendMany(out);
        joinMs += t1 - t0;
        writeMs += performance.now() - t1;
      },
    });
    const stream = new Stream(c, 1_000_000_000);
    const chunks = Math.round(c.seconds * 10);
    let records = 0, busyMs = 0;
    for (let ch = 0; ch < chunks; ch++) {
      const n = stream.fill();
      const t0 = performance.now();
      for (let i = 0, off = 0; i < n; i++, off += RECORD_SIZE) agg.add(stream.view, off);
      agg.advance(BigInt(stream.now));
      busyMs += performance.now() - t0;
      records += n;
    }
    const t0 = performance.now();
    agg.flush();
    const tClose = performance.now();
    await writer.close();
    writeMs += performance.now() - tClose;
    busyMs += performance.now() - t0;
    let bytes = 0;
    for await (const e of Deno.readDir(dir)) bytes += (await Deno.stat(`${dir}/${e.name}`)).size;
    return {
      case: c.name,
      records,
      rows: writer.rowsWritten,
      "Mrec/s end to end": +(records / busyMs / 1000).toFixed(2),
      "krows/s": +(writer.rowsWritten / busyMs).toFixed(1),
      "bytes/row": +(bytes / writer.rowsWritten).toFixed(1),
      "% aggregate": Math.round((100 * (busyMs - joinMs - writeMs)) / busyMs),
      "% join": Math.round((100 * joinMs) / busyMs),
      "% parquet": Math.round((100 * writeMs) / busyMs),
      "parquet krows/s": +(writer.rowsWritten / writeMs).toFixed(1),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Records/s through aggregate + join + Parquet for generated record streams; each case is run
 * `rounds` times and the round with the median end-to-end rate is reported (the machine is
 * shared, so single runs vary by ±20%).
 */
export async function benchPipeline(
  opts: { rounds?: number } = {},
): Promise<Record<string, unknown>[]> {
  const rounds = opts.rounds ?? 3;
  const cases: Case[] = [
    { name: "2 cpus, 200 procs, 2 sw/ms", cpus: 2, procs: 200, switchesPerMs: 2, seconds: 60 },
    { name: "2 cpus, 200 procs, 10 sw/ms", cpus: 2, procs: 200, switchesPerMs: 10, seconds: 30 },
    // ping-pong-like: few processes switching constantly, many records per row
    { name: "2 cpus, 4 procs, 200 sw/ms", cpus: 2, procs: 4, switchesPerMs: 200, seconds: 10 },
  ];
  await runCase({ ...cases[0], seconds: 3 }); // JIT warm-up
  const out = [];
  for (const c of cases) {
    const runs = [];
    for (let r = 0; r < rounds; r++) runs.push(await runCase(c));
    const rate = (x: Record<string, unknown>) => x["Mrec/s end to end"] as number;
    runs.sort((a, b) => rate(a) - rate(b));
    out.push({ ...runs[Math.floor(runs.length / 2)], rounds });
  }
  return out;
}

if (import.meta.main && !Deno.args.includes("--writer-loop")) {
  const rounds = Deno.args.find((a) => a.startsWith("--rounds="))?.split("=")[1];
  console.table(await benchPipeline({ rounds: rounds ? Number(rounds) : undefined }));
}

/**
 * The writer on the loop vs in its Worker (bench/writer_loop.ts, each run in its own process):
 * loop lag while rows are written and files rotated (fsync'd) at 2 MiB, and, when the
 * containerd harness runs, CreateContainer latency against a real containerd whose NRI
 * requests the same loop answers. Rounds alternate the modes; the median round is reported.
 */
export async function benchWriterLoop(
  opts: { rowsPerSec?: number; seconds?: number; rounds?: number; containerd?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  const rate = opts.rowsPerSec ?? 100_000, seconds = opts.seconds ?? 8, rounds = opts.rounds ?? 3;
  let extra: string[] = [];
  let cleanup = async () => {};
  if (opts.containerd ?? true) {
    try {
      const harness = await import("../tests/harness/mod.ts");
      const ctrd = await harness.startContainerd({ nri: true });
      extra = [`--nri=${ctrd.nriSocket}`, `--cri=${ctrd.criSocket}`];
      cleanup = () => ctrd.cleanup();
    } catch (e) {
      console.log(`(containerd not available: ${(e as Error).message})`);
    }
  }
  const script = new URL("./writer_loop.ts", import.meta.url).pathname;
  const runs: Record<string, Record<string, unknown>[]> = { inline: [], worker: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of ["inline", "worker"]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script, mode, String(rate), String(seconds), ...extra],
          stdout: "piped",
          stderr: "null",
        }).output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
        runs[mode].push(JSON.parse(line));
      }
    }
  } finally {
    await cleanup();
  }
  return Object.entries(runs).map(([mode, rs]) => {
    rs.sort((a, b) => (a.lagP99Ms as number) - (b.lagP99Ms as number));
    return { ...rs[Math.floor(rs.length / 2)], mode, rounds, rowsPerSec: rate };
  });
}

if (import.meta.main && Deno.args.includes("--writer-loop")) {
  console.table(await benchWriterLoop());
}
