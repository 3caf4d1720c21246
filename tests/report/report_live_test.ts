/**
 * The report on a real run: a real containerd with NRI, a sleep/wake-heavy service pod and,
 * midway, a CPU hog pod, both pinned to CPU 0; `podperf collect` for ~20 s, then
 * `podperf report` as a user runs it. The hog must be named the service's suspect — from
 * run-queue delay when the files have `runq_delay_ns`, else from CPU share alone.
 * PODPERF_KEEP=1 keeps the Parquet files and the page in the temp dir for a look.
 */
import assert from "@podperf/assert";
import { join } from "node:path";
import { CriClient, startContainerd } from "../harness/mod.ts";
import { removeCgroupTree } from "../harness/cgroup.ts";
import type { PodSpec } from "../harness/cri_client.ts";
import { PodperfProcess } from "../e2e/podperf_process.ts";
import { dumpDom } from "./chromium.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
// pinned from its first instruction (busybox taskset): forks and sleeps thousands of times a
// second, waking up, running a little and sleeping again
const SERVICE = ["taskset", "-c", "0", "sh", "-c", "while :; do usleep 200; done"];
// three busy loops on the same CPU: the service's fair share drops to about a quarter
const HOG = [
  "taskset",
  "-c",
  "0",
  "sh",
  "-c",
  "(while :; do :; done) & (while :; do :; done) & while :; do :; done",
];
const COLLECT_S = 20;
const HOG_AFTER_MS = 8000;

function sleepUntil(wallMs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, wallMs - Date.now())));
}

/**
 * A cgroup parent of our own at the top of the tree. On this shared test machine every busy
 * process of other runs sits in the root cpu cgroup with the same weight as all pods together;
 * with v1 cpu.shares at the maximum our two pods own CPU 0, and what the report sees is their
 * contention, not the neighbours' builds.
 */
async function heavyParent(): Promise<string> {
  const top = `/podperf-report-live-${crypto.randomUUID().slice(0, 8)}`;
  const v1 = `/sys/fs/cgroup/cpu${top}`;
  try {
    await Deno.mkdir(v1);
    await Deno.writeTextFile(`${v1}/cpu.shares`, "262144");
  } catch (e) {
    // no v1 cpu hierarchy (pure cgroup v2): run with the default weight
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return top;
}

/** Runs a one-container pod under `parent` (what createPod does for kubelet's parents). */
async function startPod(
  cri: CriClient,
  parent: string,
  name: string,
  namespace: string,
  command: string[],
): Promise<void> {
  const uid = crypto.randomUUID();
  const spec: PodSpec = { name, namespace, uid, cgroupParent: `${parent}/pod${uid}` };
  const podId = await cri.runPodSandbox(spec);
  const id = await cri.createContainer(podId, spec, { name: "main", command });
  await cri.startContainer(id);
}

Deno.test("live: a CPU hog pinned next to a sleep/wake service is named the service's suspect", async () => {
  const ctrd = await startContainerd({ nri: true });
  let cri: CriClient | undefined;
  let podperf: PodperfProcess | undefined;
  const out = await Deno.makeTempDir({ prefix: "podperf-report-live-" });
  const parent = await heavyParent();
  try {
    cri = await CriClient.connect(ctrd.criSocket);
    await startPod(cri, parent, "checkout", "live-shop", SERVICE);
    podperf = PodperfProcess.collect([
      "--duration",
      `${COLLECT_S}s`,
      "--output",
      join(out, "data"),
      "--nri-socket",
      ctrd.nriSocket,
      "--node",
      "live",
      "--containerd-state",
      `${ctrd.dir}/state`,
      "--no-summary",
    ]);
    const collecting = await podperf.waitFor("collecting");
    await podperf.waitFor("NRI synchronized", 5000);
    await sleepUntil(collecting.receivedMs + HOG_AFTER_MS);
    await startPod(cri, parent, "hog", "live-batch", HOG);
    const exit = await podperf.exited();
    assert.equal(exit.code, 0, exit.lines.map((l) => l.raw).join("\n"));

    const html = join(out, "report.html");
    const rep = await new Deno.Command(Deno.execPath(), {
      // half-second buckets: ~40 points for the correlation in a 20 s run
      args: ["run", "-A", "main.ts", "report", join(out, "data"), "-o", html, "--every", "500ms"],
      cwd: ROOT,
    }).output();
    const stdout = new TextDecoder().decode(rep.stdout);
    assert.equal(rep.code, 0, new TextDecoder().decode(rep.stderr));
    console.log(stdout.trimEnd());
    const page = await dumpDom(html);
    assert.deepEqual(page.console, []);
    const dom = page.dom;
    assert.match(dom, /data-rendered="ok"/);
    const runq = !/no runq_delay_ns column/.test(dom);
    const kind = runq ? "runq" : "cpu";
    // the service is a victim, the hog its first suspect
    const victim = new RegExp(
      `victim live-shop/checkout \\(${kind}\\): suspects live-batch/hog \\(r=-?[0-9.]+\\)`,
    );
    assert.match(stdout, victim, `the hog named for the service from ${kind}`);
    assert.match(
      dom,
      /<tr data-victim="live-shop\/checkout" data-suspect="live-batch\/hog" data-rank="1">/,
    );
    console.log(`named from ${runq ? "run-queue delay" : "CPU share alone (no runq_delay_ns)"}`);
  } finally {
    await podperf?.dispose();
    cri?.close();
    if (!Deno.env.get("PODPERF_KEEP")) await Deno.remove(out, { recursive: true }).catch(() => {});
    await ctrd.cleanup();
    const left = await removeCgroupTree(parent);
    assert.deepEqual(left, [], "our cgroup parent removed");
  }
});
