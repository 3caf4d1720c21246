/**
 * The whole userspace path on one core, kernel bypassed: generated ring-ordered records →
 * SlotAggregator → metadata join → rotating Parquet writer on disk. This is the ceiling the
 * real ring reader feeds (see sampler_bench for the drain itself).
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
        counters: [],
      },
    });
    const agg = new SlotAggregator({
      intervalNs: 1_000_000,
      cpus: c.cpus,
      onRows: (rows) => writer.appendMany(joiner.join(rows)),
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
    await writer.close();
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
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Records/s through aggregate + join + Parquet for generated record streams. */
export async function benchPipeline(): Promise<Record<string, unknown>[]> {
  const cases: Case[] = [
    { name: "2 cpus, 200 procs, 2 sw/ms", cpus: 2, procs: 200, switchesPerMs: 2, seconds: 60 },
    { name: "2 cpus, 200 procs, 10 sw/ms", cpus: 2, procs: 200, switchesPerMs: 10, seconds: 30 },
    // ping-pong-like: few processes switching constantly, many records per row
    { name: "2 cpus, 4 procs, 200 sw/ms", cpus: 2, procs: 4, switchesPerMs: 200, seconds: 10 },
  ];
  await runCase({ ...cases[0], seconds: 3 }); // JIT warm-up
  const out = [];
  for (const c of cases) out.push(await runCase(c));
  return out;
}

if (import.meta.main) {
  console.table(await benchPipeline());
}
