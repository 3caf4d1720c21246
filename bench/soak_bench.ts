/**
 * Soak: `podperf collect` run as the node agent (NRI on, fallbacks on, `--no-summary`,
 * `--listen`) under churn — a shell forking short-lived processes back to back (≈1 per ms on
 * the reference VM) and a pod created and removed every second through the CRI of a real
 * containerd. Every `everyS` seconds the agent's own `/metrics` is scraped: RSS, every bounded
 * structure's size, drain p99, records and lost records. Printed, never asserted: the point is
 * that the series stays flat.
 *
 * `deno run -A bench/soak_bench.ts [SECONDS]` runs it alone (default 600 s);
 * `deno task bench --only=soak --soak=120` from bench/main.ts.
 */
import {
  COMMANDS,
  createPod,
  CriClient,
  removeCgroupTree,
  startContainerd,
} from "../tests/harness/mod.ts";
import { PodperfProcess } from "../tests/e2e/podperf_process.ts";

/** Options of the soak run. */
export interface SoakOptions {
  /** Length of the churn, seconds (default 600). */
  seconds?: number;
  /** Scrape period, seconds (default 10). */
  everyS?: number;
}

/** The numbers of one scrape. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

/** Committed V8 heap of one isolate in a scrape, MiB. */
function heapMiB(m: Map<string, number>, isolate: string): number {
  const b = m.get(`podperf_v8_heap_bytes{isolate="${isolate}",kind="committed"}`) ?? 0;
  return Number((b / 2 ** 20).toFixed(1));
}

/** Highest pid handed out so far (5th field of /proc/loadavg): the process creation rate. */
function lastPid(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").trim().split(/\s+/)[4]);
}

/** CPU time (user + system) of process `pid` so far, in ms (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime, stime: fields 14 and 15
}

/** Pids handed out between two lastPid() readings (pids wrap at pid_max). */
function pidsBetween(a: number, b: number): number {
  return b >= a ? b - a : b + Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max")) - a;
}

/** Runs the soak; returns one row per scrape. */
export async function benchSoak(opts: SoakOptions = {}): Promise<Record<string, unknown>[]> {
  const seconds = opts.seconds ?? 600;
  const everyS = opts.everyS ?? 10;
  const ctrd = await startContainerd({ nri: true });
  const out = await Deno.makeTempDir({ prefix: "podperf-soak-" });
  const cri = await CriClient.connect(ctrd.criSocket);
  // Forks as fast as one shell can: ≈1 short-lived process per ms here.
  const forker = new Deno.Command("nice", {
    args: ["-n", "19", "sh", "-c", "while :; do /bin/true; done"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let podperf: PodperfProcess | null = null;
  let churning = true;
  let pods = 0, podErrors = 0;
  const rows: Record<string, unknown>[] = [];
  try {
    podperf = PodperfProcess.collect([
      "--output",
      out,
      "--node",
      "soak",
      "--nri-socket",
      ctrd.nriSocket,
      "--containerd-state",
      `${ctrd.dir}/state`,
      "--no-summary",
      "--stats-interval",
      "0",
      "--rotate-age",
      "1m",
      "--listen",
      "127.0.0.1:0",
    ]);
    const port = (await podperf.waitFor("listening", 30_000)).fields.port as number;
    // A pod created and removed every second: started on the second, whatever the previous
    // ones are doing (creation takes longer than a second on a loaded 2-CPU VM), at most 8 at once.
    const inFlight = new Set<Promise<void>>();
    const cycle = async (i: number) => {
      try {
        const pod = await createPod(cri, {
          name: `soak-${i}`,
          namespace: "soak",
          containers: [{ name: "nap", command: COMMANDS.idle }],
        });
        pods++;
        for (const c of pod.containers) {
          await cri.stopContainer(c.id, 0);
          await cri.removeContainer(c.id);
        }
        await cri.stopPodSandbox(pod.podId);
        await cri.removePodSandbox(pod.podId);
        // kubelet removes the pod's cgroup once its sandbox is gone; left behind, 600 empty
        // cgroups a run would pile up in every hierarchy (and in the agent's cgroup walks).
        await removeCgroupTree(pod.cgroupParent);
      } catch {
        podErrors++;
      }
    };
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        if (inFlight.size < 8) {
          const p = cycle(i).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      await Promise.all(inFlight);
    })();
    const t0 = performance.now();
    let pid0 = lastPid(), at0 = t0, cpu0 = cpuMsOf(podperf.pid);
    for (let t = everyS; t <= seconds; t += everyS) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + t * 1000 - performance.now())));
      const m = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const now = performance.now(), pid = lastPid(), cpu = cpuMsOf(podperf.pid);
      const size = (s: string) => m.get(`podperf_structure_entries{structure="${s}"}`) ?? 0;
      rows.push({
        t_s: t,
        rss_MiB: Number(((m.get("podperf_resident_memory_bytes") ?? 0) / 2 ** 20).toFixed(1)),
        heap_MiB: Number(((m.get("podperf_heap_used_bytes") ?? 0) / 2 ** 20).toFixed(1)),
        // pages each isolate's V8 heap holds (the loop's, the Parquet Worker's)
        loop_v8_MiB: heapMiB(m, "loop"),
        writer_v8_MiB: heapMiB(m, "writer"),
        // the agent's process (BPF programs run in the tasks they observe, not here)
        cpu_pct: Number((100 * (cpu - cpu0) / (now - at0)).toFixed(1)),
        procs_per_s: Math.round(pidsBetween(pid0, pid) / ((now - at0) / 1000)),
        pods_done: pods,
        store: size("metadata_store"),
        resolver: size("resolver_cache"),
        oci: size("oci_bundles"),
        cg_paths: size("cgroup_paths"),
        agg_open: size("aggregator_open_entries"),
        totals: size("run_totals"),
        series: size("pod_series"),
        series_cg: size("pod_series_cgroups"),
        nri_queue: size("nri_pending_updates"),
        drain_p99_ms: Number(((m.get("podperf_drain_p99_seconds") ?? 0) * 1000).toFixed(2)),
        records: m.get("podperf_records_total") ?? 0,
        lost: m.get("podperf_records_lost_total") ?? 0,
        nri_reconn: m.get("podperf_nri_reconnects_total") ?? 0,
        nri: [...m].find(([k, v]) => k.startsWith("podperf_nri_state") && v === 1)?.[0]
          .replace(/.*state="(\w+)".*/, "$1") ?? "off",
      });
      pid0 = pid;
      at0 = now;
      cpu0 = cpu;
    }
    churning = false;
    await churn;
    const stopAt = performance.now();
    podperf.kill("SIGTERM");
    const exit = await podperf.exited();
    podperf = null;
    rows.push({
      t_s: "SIGTERM",
      rss_MiB: `exit ${exit.code} in ${Math.round(performance.now() - stopAt)} ms`,
      pods_done: `${pods} (${podErrors} failed)`,
    });
  } finally {
    churning = false;
    try {
      forker.kill("SIGKILL");
    } catch { /* gone */ }
    await forker.status;
    if (podperf) {
      podperf.kill("SIGKILL");
      await podperf.exited();
    }
    cri.close();
    await ctrd.cleanup();
    await Deno.remove(out, { recursive: true });
  }
  return rows;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 600);
  console.table(await benchSoak({ seconds, everyS: Math.min(10, seconds) }));
}
