/**
 * Per-pod series against a real Prometheus: `podperf collect --listen` runs next to pods of
 * the test containerd, Debian's Prometheus 2.42 scrapes it every second, and the answers of
 * its HTTP API are checked against the kernel's cgroup accounting and the pods' lifecycle.
 */
import assert from "node:assert/strict";
import { cgroup2Dir, COMMANDS, createPod, CriClient, startContainerd } from "../harness/mod.ts";
import { nodeCpuNs, UsagePoller } from "../e2e/cgroup_usage.ts";
import { PodperfProcess } from "../e2e/podperf_process.ts";
import { removePodTimed } from "../e2e/pods.ts";
import { freePort, PrometheusServer, promtool, type VectorSample } from "./prometheus_server.ts";
import { loadDashboard, panelQueries, variableQueries } from "./dashboard.ts";

// "Within a few percent" of the kernel's figure.
const CPU_TOLERANCE = 0.05;
const WINDOW_S = 30;
// The metadata store's default grace period, which collect passes to the series.
const GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("prometheus: a busy pod's rate matches cpu.stat, a removed pod goes stale after the grace period, promtool and the dashboard's queries are clean", async () => {
  const ctrd = await startContainerd({ nri: true });
  let cri: CriClient | undefined;
  let podperf: PodperfProcess | undefined;
  let prom: PrometheusServer | undefined;
  let out: string | undefined;
  const poller = new UsagePoller(10);
  try {
    out = await Deno.makeTempDir({ prefix: "podperf-prom-e2e-" });
    cri = await CriClient.connect(ctrd.criSocket);
    const busy = await createPod(cri, {
      name: "busy-a",
      namespace: "prom-a",
      containers: [{ name: "spin", command: COMMANDS.busy }],
    });
    const gone = await createPod(cri, {
      name: "gone-b",
      namespace: "prom-b",
      containers: [{ name: "spin", command: COMMANDS.busy }],
    });
    poller.watch("busy", cgroup2Dir(busy.cgroupParent));
    poller.watchValue("stolen", () => nodeCpuNs().stolen);
    poller.watchValue("node", () => nodeCpuNs().busy);

    const port = freePort();
    podperf = PodperfProcess.collect([
      "--output",
      out,
      "--listen",
      `127.0.0.1:${port}`,
      "--nri-socket",
      ctrd.nriSocket,
      "--containerd-state",
      `${ctrd.dir}/state`,
      "--node",
      "prom-e2e",
      "--rotate-age",
      "1m",
      "--no-summary",
    ]);
    await podperf.waitFor("listening");
    await podperf.waitFor("NRI synchronized", 5000);
    prom = await PrometheusServer.start(`127.0.0.1:${port}`, 1);

    // The text as Prometheus receives it passes promtool's parser and linter.
    await sleep(1500);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^podperf_pod_cpu_seconds_total\{namespace="prom-a",pod="busy-a"/m);
    const lint = await promtool(["check", "metrics"], text);
    assert.equal(lint.code, 0, lint.output);
    assert.equal(lint.output.trim(), "", lint.output);

    const busySeries = 'podperf_pod_cpu_seconds_total{namespace="prom-a",pod="busy-a"}';
    const firstDeadline = Date.now() + 30_000;
    while ((await prom.query(busySeries)).length === 0) {
      assert.ok(Date.now() < firstDeadline, "Prometheus has no busy-a sample after 30 s");
      await sleep(250);
    }
    const firstSampleMs = Date.now();
    await sleep(3000);
    const health = await prom.targetHealth();
    assert.equal(health.health, "up", health.lastError);

    // The dashboard: its variables list what is there, and with "All" selected (Grafana sends
    // the allValue .*) the CPU panel shows both pods.
    const dash = await loadDashboard();
    const vars = {
      namespace: "prom-a",
      pod: "busy-a",
      node: ".*",
      __rate_interval: "4s",
      datasource: "prometheus",
    };
    for (const v of variableQueries(dash, { ...vars, namespace: ".*" })) {
      const values = await prom.labelValues(v.label, v.selector);
      const want = { node: "prom-e2e", namespace: "prom-a", pod: "busy-a" }[v.label];
      assert.ok(want && values.includes(want), `${v.variable}: [${values}] lacks ${want}`);
    }
    const all = panelQueries(dash, { ...vars, namespace: ".*", pod: ".*" });
    const cpuAll = await prom.query(all.find((p) => p.panel === "CPU per pod")!.expr);
    // Other pods on the machine (other tests' runtimes, named by cgroup path) may be there too.
    const allPods = cpuAll.map((s) => s.metric.pod);
    for (const p of ["busy-a", "gone-b"]) assert.ok(allPods.includes(p), `${p} in [${allPods}]`);

    // Removal: the series stays through the grace period, then Prometheus marks it stale.
    const goneQ = 'podperf_pod_cpu_seconds_total{pod="gone-b"}';
    assert.equal((await prom.query(goneQ)).length, 1, "gone-b is there before its removal");
    const removal = await removePodTimed(cri, gone);
    let staleMs = NaN;
    while (Date.now() < removal.stoppedMs + GRACE_MS + 8000) {
      if ((await prom.query(goneQ)).length === 0) {
        staleMs = Date.now() - removal.stoppedMs;
        break;
      }
      await sleep(250);
    }
    console.log(`gone-b stale in Prometheus ${staleMs} ms after its containers stopped`);
    assert.ok(!Number.isNaN(staleMs), "gone-b's series never went stale");
    assert.ok(staleMs >= GRACE_MS - 250, `gone-b dropped before the grace period (${staleMs} ms)`);
    const after = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.doesNotMatch(after, /pod="gone-b"/);
    assert.match(after, /^podperf_pod_series_expired_total\{node="prom-e2e"\} [1-9]/m);

    // The busy pod's rate over a window that Prometheus's samples cover whole (rate() divides
    // by the full window), against its cgroup's cpu.stat over the same window. The window is
    // long because each end of it is off by the agent's drain lag at that scrape.
    await sleep(Math.max(0, firstSampleMs + (WINDOW_S + 3) * 1000 - Date.now()));
    // The evaluation instant: ingested for sure (1.5 s back), and where the cgroup polls at
    // both ends of the window are close together (a starved test process polls late).
    let atMs = Date.now() - 1500;
    const gapAt = (t: number) =>
      Math.max(poller.at("busy", t).gapMs, poller.at("busy", t - WINDOW_S * 1000).gapMs);
    for (let t = atMs - 10; t > atMs - 3000; t -= 10) if (gapAt(t) < gapAt(atMs)) atMs = t;
    const q = `sum by (namespace, pod) (rate(${busySeries}[${WINDOW_S}s]))`;
    const [sample] = await prom.query(q, atMs / 1000);
    assert.ok(sample, `no result for ${q}`);
    const fromMs = atMs - WINDOW_S * 1000;
    const k0 = poller.at("busy", fromMs), k1 = poller.at("busy", atMs);
    const kernelRate = (k1.usageNs - k0.usageNs) / (WINDOW_S * 1e9);
    // podperf's stretches are CLOCK_MONOTONIC and include time the hypervisor stole from the
    // vCPU; cpu.stat leaves it out (see tests/e2e/collect_pods_test.ts).
    const stolen = poller.at("stolen", atMs).usageNs - poller.at("stolen", fromMs).usageNs;
    const nodeBusy = poller.at("node", atMs).usageNs - poller.at("node", fromMs).usageNs;
    const stolenShare = stolen / (stolen + nodeBusy);
    const onCpu = sample.value * (1 - stolenShare);
    const err = (onCpu - kernelRate) / kernelRate;
    const figures = `prometheus rate ${sample.value.toFixed(4)} cores (${
      (100 * stolenShare).toFixed(2)
    }% stolen → ${onCpu.toFixed(4)}), cpu.stat ${kernelRate.toFixed(4)} cores: ${
      (100 * err).toFixed(2)
    }% (poll gaps ${k0.gapMs}, ${k1.gapMs} ms)`;
    console.log(`busy pod over ${WINDOW_S} s: ${figures}`);
    assert.ok(k0.gapMs < 100 && k1.gapMs < 100, `cpu.stat poll gaps: ${figures}`);
    assert.ok(kernelRate > 0.05, `the busy pod ran (${kernelRate} cores)`);
    assert.ok(Math.abs(err) <= CPU_TOLERANCE, figures);

    // Every panel's query parses and runs; CPU returns data, the others wherever their
    // counters exist (a family absent from /metrics must give an empty answer, not zeros).
    const live = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const has = (family: string) => new RegExp(`^${family}\\{`, "m").test(live);
    const expectData: Record<string, boolean> = {
      "CPU per pod": true,
      "Run-queue delay per pod": has("podperf_pod_runqueue_delay_seconds_total"),
      "IPC per pod": has("podperf_pod_cycles_total") && has("podperf_pod_instructions_total"),
      "LLC MPKI per pod": has("podperf_pod_llc_misses_total") &&
        has("podperf_pod_instructions_total"),
    };
    const panels = panelQueries(dash, vars);
    assert.deepEqual(panels.map((p) => p.panel).sort(), Object.keys(expectData).sort());
    for (const p of panels) {
      const r: VectorSample[] = await prom.query(p.expr);
      console.log(`panel "${p.panel}": ${r.length} series (data expected: ${expectData[p.panel]})`);
      assert.equal(r.length > 0, expectData[p.panel], `${p.panel}: ${p.expr}`);
      for (const s of r) assert.equal(s.metric.pod, "busy-a", p.panel);
    }

    podperf.kill("SIGTERM");
    const exit = await podperf.exited();
    assert.equal(exit.code, 0, exit.lines.map((l) => l.raw).join("\n"));
  } finally {
    poller.stop();
    await prom?.stop();
    await podperf?.dispose();
    cri?.close();
    if (out) await Deno.remove(out, { recursive: true }).catch(() => {});
    await ctrd.cleanup();
  }
});
