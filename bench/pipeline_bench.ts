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

if (import.meta.main) {
  const rounds = Deno.args.find((a) => a.startsWith("--rounds="))?.split("=")[1];
  console.table(await benchPipeline({ rounds: rounds ? Number(rounds) : undefined }));
}
