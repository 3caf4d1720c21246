/**
 * Per-pod series cost: what `append` adds to the drain loop per row, and what one scrape
 * (`renderMetrics`) costs for 100 to 10,000 series. Rows are joined OutputRows of N containers
 * (4 processes each), fed in 1 ms slots as the collector does.
 * Run: node_modules/deno/deno run -A bench/metrics_bench.ts
 */
import { PodSeries } from "../lib/metrics/mod.ts";
import type { OutputRow } from "../lib/output/schema.ts";

const COUNTERS = [
  { name: "cycles", source: "hardware" as const },
  { name: "instructions", source: "hardware" as const },
  { name: "llc_misses", source: "hardware" as const },
  { name: "page_faults", source: "software" as const },
  { name: "context_switches", source: "software" as const },
];

function rowsFor(containers: number): OutputRow[] {
  const rows: OutputRow[] = [];
  for (let c = 0; c < containers; c++) {
    for (let p = 0; p < 4; p++) {
      rows.push({
        monoNs: 0n,
        tgid: c * 4 + p,
        comm: `proc-${p}`,
        cgroupId: BigInt(c + 1),
        cpuNs: 250_000,
        cycles: 700_000,
        instructions: 900_000,
        llcMisses: 120,
        pageFaults: 3,
        contextSwitches: 1,
        runqDelayNs: 40_000,
        runqWaits: 1,
        scaled: false,
        carried: false,
        records: 2,
        podName: `pod-${c >> 1}`,
        podNamespace: `ns-${c % 20}`,
        podUid: `uid-${c >> 1}`,
        containerName: `c-${c & 1}`,
        containerId: `id-${c}`,
        metaSource: "nri",
      });
    }
  }
  return rows;
}

/** One row per (containers, byProcess) case. */
export function benchMetrics(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const containers of [100, 1000, 10_000]) {
    for (const byProcess of [false, true]) {
      const series = new PodSeries({
        node: "bench",
        counters: COUNTERS,
        byProcess,
        maxSeries: 100_000,
        liveness: () => "live",
      });
      const rows = rowsFor(containers);
      const slots = Math.max(20, Math.round(2_000_000 / rows.length));
      series.append(rows); // warm-up: creates the series
      const t0 = performance.now();
      for (let i = 0; i < slots; i++) series.append(rows);
      const appendNs = (performance.now() - t0) * 1e6 / (slots * rows.length);
      let text = "";
      const r0 = performance.now();
      const renders = 5;
      for (let i = 0; i < renders; i++) text = series.renderMetrics();
      const renderMs = (performance.now() - r0) / renders;
      out.push({
        containers,
        "by process": byProcess,
        series: series.stats().series,
        "append ns/row": Number(appendNs.toFixed(1)),
        "scrape ms": Number(renderMs.toFixed(2)),
        "scrape KiB": Math.round(text.length / 1024),
      });
    }
  }
  return out;
}

if (import.meta.main) console.table(benchMetrics());
