/**
 * `podperf collect` as the node agent, against a real containerd 1.7.24: a busy container that
 * runs before the agent starts is named from its very first row (the first slots wait for the
 * NRI Synchronize, or for the fallback scan), the stats line comes every --stats-interval, and
 * --listen serves probes and the agent's own metrics while it runs.
 */
import assert from "@podperf/assert";
import { COMMANDS, createPod, CriClient, startContainerd } from "../harness/mod.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import { PodperfProcess } from "../e2e/podperf_process.ts";

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

Deno.test("agent: a pre-existing busy container has no unnamed rows; stats, probes and metrics while running", async () => {
  const ctrd = await startContainerd({ nri: true });
  const out = await Deno.makeTempDir({ prefix: "podperf-agent-" });
  let cri: CriClient | undefined;
  try {
    cri = await CriClient.connect(ctrd.criSocket);
    const pod = await createPod(cri, {
      name: "early-busy",
      namespace: "agent",
      containers: [{ name: "spin", command: COMMANDS.busy }],
    });
    const spin = pod.containers[0];
    for (
      const [mode, flags] of [
        ["nri", ["--nri-socket", ctrd.nriSocket, "--no-fallbacks"]],
        ["fallbacks", ["--no-nri", "--containerd-state", `${ctrd.dir}/state`]],
      ] as const
    ) {
      const dir = `${out}/${mode}`;
      const podperf = PodperfProcess.collect([
        "--duration",
        "4s",
        "--output",
        dir,
        "--node",
        "agent",
        "--no-summary",
        "--stats-interval",
        "1s",
        "--listen",
        "127.0.0.1:0",
        ...flags,
      ]);
      const { port } = (await podperf.waitFor("listening")).fields as { port: number };
      await podperf.waitFor("collecting");
      const health = await get(port, "/healthz");
      assert.equal(health.status, 200, health.body);
      // Ready once NRI synchronized / the fallback scans are done.
      let ready = await get(port, "/readyz");
      for (let i = 0; i < 40 && ready.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        ready = await get(port, "/readyz");
      }
      assert.equal(ready.status, 200, `${mode}: ${ready.body}`);
      await podperf.waitFor("stats", 5000);
      const metrics = await get(port, "/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^podperf_records_total \d+$/m);
      assert.match(metrics.body, /^podperf_resident_memory_bytes \d+$/m);
      assert.match(metrics.body, /^# TYPE podperf_rows_written_total counter$/m);
      if (mode === "nri") assert.match(metrics.body, /^podperf_nri_state\{state="synced"\} 1$/m);
      else assert.doesNotMatch(metrics.body, /podperf_nri_state/);

      const exit = await podperf.exited();
      const stderr = exit.lines.map((l) => l.raw).join("\n");
      assert.equal(exit.code, 0, stderr);
      const stats = podperf.logged("stats");
      assert.ok(stats.length >= 2, `${mode}: ${stats.length} stats lines in 4 s`);
      const last = stats[stats.length - 1].fields;
      assert.ok((last.records as number) > 0);
      // a busy container: the last line's rate is above 0 (it read 0 in 2 runs of 6 when a line
      // with no drain since the last took a few µs of clock jitter for a span with no record)
      assert.ok((last.recordsPerS as number) > 0, `${mode}: ${JSON.stringify(last)}`);
      assert.equal(last.nri, mode === "nri" ? "synced" : "off");
      assert.ok((last.rssBytes as number) > 10 << 20);
      assert.equal(typeof (last.sizes as Record<string, number>).metadata_store, "number");

      const f = sqlString(`${dir}/*.parquet`);
      const [rows] = await queryParquet(`
        SELECT count(*) AS n, count(*) FILTER (WHERE pod_name IS NULL) AS unnamed,
               count(*) FILTER (WHERE pod_name = 'early-busy') AS named
        FROM read_parquet('${f}') WHERE cgroup_id = ${spin.cgroupId}`);
      console.log(`${mode}: ${rows.n} rows of the busy container, ${rows.unnamed} unnamed`);
      assert.ok((rows.n as bigint) > 100n, `${mode}: rows of the busy container (${rows.n})`);
      assert.equal(rows.unnamed, 0n, `${mode}: unnamed rows of a container running before start`);
      const finished = podperf.logged("collection finished")[0].fields;
      assert.equal(finished.rowsUnnamedAtStart, 0);
    }
  } finally {
    cri?.close();
    await ctrd.cleanup(); // its pod's cgroup parent too, which stop() leaves
    await Deno.remove(out, { recursive: true });
  }
});
