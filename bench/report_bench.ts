/**
 * `podperf report` on demo nodes (lib/report/demo_data.ts): rows read per second into the
 * series, the HTML's size, how long chromium takes to open it, and the reader's memory.
 */
import { join } from "node:path";
import { writeReport } from "../lib/cli/report.ts";
import { writeDemoFiles } from "../lib/report/demo_data.ts";
import { dumpDom } from "../tests/report/chromium.ts";

interface Case {
  name: string;
  durationS: number;
  intervalMs: number;
  extraPods: number;
}

const CASES: Case[] = [
  { name: "1 h, 37 pods, 250 ms slots", durationS: 3600, intervalMs: 250, extraPods: 30 },
  { name: "10 min, 37 pods, 10 ms slots", durationS: 600, intervalMs: 10, extraPods: 30 },
  { name: "1 h, 107 pods, 1 s slots", durationS: 3600, intervalMs: 1000, extraPods: 100 },
];

/** One row per demo node: generation, report build, HTML size, chromium render. */
export async function benchReport(opts: { quick?: boolean } = {}) {
  const out: Record<string, unknown>[] = [];
  for (const c of opts.quick ? CASES.slice(0, 1) : CASES) {
    const dir = await Deno.makeTempDir({ prefix: "podperf-report-bench-" });
    try {
      const demo = await writeDemoFiles({
        dir: join(dir, "in"),
        durationS: c.durationS,
        intervalMs: c.intervalMs,
        extraPods: c.extraPods,
        fileSeconds: 300,
      });
      const t0 = performance.now();
      const r = await writeReport([join(dir, "in")], {
        output: join(dir, "report.html"),
        everyNs: 1_000_000_000n,
      });
      const buildS = (performance.now() - t0) / 1000;
      const rss = Deno.memoryUsage().rss;
      const page = await dumpDom(join(dir, "report.html"));
      const script = /data-render-ms="(\d+)"/.exec(page.dom)?.[1];
      out.push({
        case: c.name,
        rows: demo.rows,
        files: demo.paths.length,
        "parquet MB": +(demo.bytes / 1e6).toFixed(1),
        "build s": +buildS.toFixed(2),
        "rows/s": Math.round(demo.rows / buildS),
        "HTML KB": Math.round(r.bytes / 1024),
        "chromium ms": Math.round(page.ms),
        "page script ms": script === undefined ? null : Number(script),
        "RSS MB": Math.round(rss / 2 ** 20),
        findings: r.suspects.findings.length,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return out;
}

if (import.meta.main) console.table(await benchReport({ quick: Deno.args.includes("--quick") }));
