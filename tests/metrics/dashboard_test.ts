/**
 * The dashboard's arithmetic where the data exists: this machine has no PMU, so rows with
 * known cycles, instructions, LLC misses and run-queue delay are fed to the per-pod series,
 * served by the agent's listener and scraped by a real Prometheus; each panel's query must
 * give the ratio those rows define (rates share their timestamps, so ratios are exact).
 */
import assert from "@podperf/assert";
import { AgentHttpServer } from "../../lib/agent/http_server.ts";
import { PodSeries } from "../../lib/metrics/mod.ts";
import type { OutputRow } from "../../lib/output/schema.ts";
import { loadDashboard, panelQueries } from "./dashboard.ts";
import { PrometheusServer, type VectorSample } from "./prometheus_server.ts";

const HARDWARE = ["cycles", "instructions", "llc_misses"].map((name) => ({
  name,
  source: "hardware" as const,
}));

function row(podName: string, cgroupId: bigint, ipc: number): OutputRow {
  return {
    monoNs: 0n,
    tgid: 1,
    comm: "app",
    cgroupId,
    cpuNs: 1_000_000,
    cycles: 1_000_000,
    instructions: ipc * 1_000_000,
    llcMisses: 500,
    pageFaults: 1,
    contextSwitches: 1,
    scaled: false,
    records: 1,
    podName,
    podNamespace: "dash",
    podUid: `uid-${podName}`,
    containerName: "app",
    containerId: `id-${podName}`,
    metaSource: "nri",
    // the run-queue fields of the sampler's rows (absent from older rows)
    ...{ runqDelayNs: 250_000, runqWaits: 1 },
  } as OutputRow;
}

Deno.test("dashboard: with PMU and run-queue data every panel answers, with the rows' own ratios", async () => {
  const series = new PodSeries({ node: "dash-node", counters: HARDWARE, liveness: () => "live" });
  const feed = setInterval(() => series.append([row("fast", 1n, 2), row("slow", 2n, 0.5)]), 100);
  const server = new AgentHttpServer({
    address: "127.0.0.1:0",
    liveness: [],
    readiness: [],
    metrics: [series],
  });
  let prom: PrometheusServer | undefined;
  try {
    prom = await PrometheusServer.start(`127.0.0.1:${server.port}`, 1);
    const panels = panelQueries(await loadDashboard(), {
      namespace: "dash",
      pod: ".*",
      node: "dash-node",
      __rate_interval: "4s",
    });
    const want: Record<string, Record<string, number>> = {
      "IPC per pod": { fast: 2, slow: 0.5 },
      "LLC MPKI per pod": { fast: 1000 * 500 / 2e6, slow: 1000 * 500 / 0.5e6 },
      // 250 µs of waiting per 1 ms on CPU: a quarter of the CPU rate, whatever the rate is.
      "Run-queue delay per pod": { fast: 0.25, slow: 0.25 },
      "CPU per pod": { fast: 1, slow: 1 },
    };
    const deadline = Date.now() + 60_000;
    while ((await prom.query(panels[0].expr)).length < 2) {
      assert.ok(Date.now() < deadline, "no rate after 60 s of scrapes");
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 3000)); // a few more scrapes inside the window
    const atS = Date.now() / 1000 - 1;
    const [cpu] = await prom.query(`rate(podperf_pod_cpu_seconds_total{pod="fast"}[4s])`, atS);
    assert.ok(cpu && cpu.value > 0, "the fed pod's CPU rate");
    for (const p of panels) {
      const r: VectorSample[] = await prom.query(p.expr, atS);
      const got = Object.fromEntries(r.map((s) => [s.metric.pod, s.value]));
      const scale = p.panel.startsWith("CPU") || p.panel.startsWith("Run-queue") ? cpu.value : 1;
      for (const [pod, v] of Object.entries(want[p.panel])) {
        assert.ok(
          Math.abs(got[pod] - v * scale) <= 1e-9 * Math.max(1, v * scale),
          `${p.panel} ${pod}: ${got[pod]}, want ${v * scale}`,
        );
      }
    }
  } finally {
    clearInterval(feed);
    await prom?.stop();
    await server.close();
  }
});
