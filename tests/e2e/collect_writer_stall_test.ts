/**
 * The writer off the loop, end to end: with the Parquet writer's Worker stalled for 5 s (the
 * test hook PODPERF_TEST_WRITER_STALL_MS, as a stuck fsync would), a real containerd's NRI
 * requests are still answered at once and no row is lost; SIGTERM mid-stall still ends the run
 * in a few seconds with every row in a complete file.
 */
import assert from "@podperf/assert";
import { cgroupParentFor, COMMANDS, CriClient, startContainerd } from "../harness/mod.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import { PodperfProcess } from "./podperf_process.ts";

const STALL_MS = 5000;
// containerd's plugin_request_timeout in the harness is 2 s: a plugin whose loop is blocked
// makes each NRI-hooked CRI call wait that long. Answered promptly, each takes far less.
const CRI_CALL_BOUND_MS = 1000;

Deno.test("writer stalled 5 s: containerd's NRI requests answered at once, no rows lost, SIGTERM ends the run", async () => {
  const ctrd = await startContainerd({ nri: true });
  let out: string | undefined;
  let cri: CriClient | undefined;
  let podperf: PodperfProcess | undefined;
  try {
    out = await Deno.makeTempDir({ prefix: "podperf-e2e-stall-" });
    cri = await CriClient.connect(ctrd.criSocket);
    podperf = PodperfProcess.collect([
      "--output",
      out,
      "--nri-socket",
      ctrd.nriSocket,
      "--node",
      "e2e",
      "--containerd-state",
      `${ctrd.dir}/state`,
      "--rotate-age",
      "1s",
    ], { PODPERF_TEST_WRITER_STALL_MS: String(STALL_MS) });
    const collecting = await podperf.waitFor("collecting");
    await podperf.waitFor("NRI synchronized", 5000);

    // a pod made while the writer is stalled: every NRI-hooked step is timed
    const uid = crypto.randomUUID();
    const spec = {
      name: "pod-s",
      namespace: "e2e-s",
      uid,
      cgroupParent: cgroupParentFor("burstable", uid),
    };
    const timed: Record<string, number> = {};
    const time = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await call();
      timed[name] = Math.round(performance.now() - t);
      return r;
    };
    const podId = await time("RunPodSandbox", () => cri!.runPodSandbox(spec));
    const cid = await time(
      "CreateContainer",
      () => cri!.createContainer(podId, spec, { name: "spin", command: [...COMMANDS.busy] }),
    );
    await time("StartContainer", () => cri!.startContainer(cid));
    const startedMs = Date.now();
    const stalledUntil = collecting.receivedMs + STALL_MS;
    console.log(`CRI calls during the stall (ms): ${JSON.stringify(timed)}`);
    assert.ok(startedMs < stalledUntil, "the pod was made while the writer was stalled");
    // RunPodSandbox also starts the pause container (runc), whose time varies with load: it
    // only must not have waited out containerd's 2 s plugin timeout (a blocked loop does)
    assert.ok(timed.RunPodSandbox < 2000, `RunPodSandbox took ${timed.RunPodSandbox} ms`);
    for (const name of ["CreateContainer", "StartContainer"]) {
      assert.ok(timed[name] < CRI_CALL_BOUND_MS, `${name} took ${timed[name]} ms while stalled`);
    }
    const { pid } = await cri.containerStatus(cid);

    // SIGTERM while the writer is still stalled
    await new Promise((r) => setTimeout(r, Math.max(0, stalledUntil - 1500 - Date.now())));
    const termMs = Date.now();
    podperf.kill("SIGTERM");
    const exit = await podperf.exited();
    const tookMs = Date.now() - termMs;
    const stderr = exit.lines.map((l) => l.raw).join("\n");
    console.log(`SIGTERM to exit: ${tookMs} ms`);
    assert.equal(exit.code, 0, stderr);
    assert.ok(tookMs < 8000, `exit took ${tookMs} ms`);
    const finished = podperf.logged("collection finished")[0];
    assert.equal(finished.fields.rowsLost, 0, finished.raw);

    const f = sqlString(`${out}/*.parquet`);
    const [all] = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${f}')`);
    assert.equal(Number(all.n), finished.fields.rows, "every row logged is in a complete file");
    const [pod] = await queryParquet(`
      SELECT count(*) AS n, count(*) FILTER (WHERE pod_name = 'pod-s' AND meta_source = 'nri') AS named
      FROM read_parquet('${f}') WHERE pid = ${pid} AND epoch_ns(ts) >= ${
      BigInt(startedMs + 100) * 1_000_000n
    }`);
    assert.ok((pod.n as bigint) > 0n, `rows of the pod's process: ${pod.n}`);
    assert.equal(pod.named, pod.n, "the pod made during the stall is named from NRI");
  } finally {
    await podperf?.dispose();
    cri?.close();
    if (out) await Deno.remove(out, { recursive: true }).catch(() => {});
    await ctrd.cleanup();
  }
});
