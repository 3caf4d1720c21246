/**
 * What a node pays for podperf at 1 ms, next to the tools a user would run instead
 * (`perf stat -a -I 1000`, `perf record -a -F 1000 -g`), each measured the same way: user+sys
 * CPU of the tool's own process from /proc over a steady window, plus, for podperf, the
 * kernel-side cost of its BPF programs from bpf_stats (run_time_ns / run_cnt), raw and net of
 * bpf_stats' floor (empty programs on the same hooks, right after, under the same load): the
 * "share of node net of floor %" column is the figure issue 12's ≤ 1% target is checked against.
 */
import {
  busy,
  cPingPong,
  forks,
  idle,
  type Load,
  pingPong,
  pinnedPingPong,
  schedPipe,
} from "./loads.ts";
import { onlineCpus } from "../lib/sampler/cpus.ts";
import { detectCgroup2Mount } from "../lib/metadata/cgroup_dir.ts";
import { V8_FLAGS } from "../lib/cli/v8_flags.ts";
import { GLIBC_TUNABLES } from "../lib/malloc.ts";
import { BENCH_STOP_ENV, BENCH_STOPS } from "../lib/collect/collector.ts";
import { perEventWindow } from "./sampler_bench.ts";

const CLK_TCK = 100;
export const CGROUP2 = detectCgroup2Mount() ?? "/sys/fs/cgroup/unified";

/**
 * CPU seconds charged to a cgroup (cpu.stat usage_usec): ns-exact, every thread of the tool
 * and its children included, dead ones too. /proc/PID/stat counts in 10 ms ticks, too coarse
 * for an idle floor of a few tenths of a percent.
 */
export function cgroupCpuSeconds(dir: string): number {
  const m = Deno.readTextFileSync(`${dir}/cpu.stat`).match(/^usage_usec (\d+)$/m);
  return m ? Number(m[1]) / 1e6 : NaN;
}
const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();

/** Non-idle CPU seconds of the whole node (all CPUs), from /proc/stat. */
function nodeBusySeconds(): number {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / CLK_TCK;
}

/**
 * Starts `argv` inside cgroup `cg` (made here) from its first instruction, so all its threads
 * and children count there. Stdout is discarded; stderr is piped only when asked for.
 */
export function spawnInCgroup(
  cg: string,
  argv: string[],
  opts: { env?: Record<string, string>; stderr?: "piped" | "null" } = {},
): Deno.ChildProcess {
  Deno.mkdirSync(cg);
  return new Deno.Command("sh", {
    args: ["-c", `echo $$ > '${cg}/cgroup.procs' && exec "$@"`, "sh", ...argv],
    cwd: root,
    env: opts.env,
    stdin: "null",
    stdout: "null",
    stderr: opts.stderr ?? "null",
  }).spawn();
}

/**
 * Ends collectors run side by side (the stages and startup sections): kills each, stops the
 * load, then removes their output directories and cgroups.
 */
export async function stopSideBySide(
  runs: { child: Deno.ChildProcess; out: string; cg: string }[],
  load: { stop(): Promise<void> },
): Promise<void> {
  for (const x of runs) {
    try {
      x.child.kill("SIGKILL");
    } catch { /* exited */ }
    await x.child.status;
  }
  await load.stop();
  for (const x of runs) {
    await Deno.remove(x.out, { recursive: true }).catch(() => {});
    await removeCgroup(x.cg);
  }
}

/** Removes a cgroup whose tasks were killed, retrying while the last of them leave. */
export async function removeCgroup(cg: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      Deno.removeSync(cg);
      return;
    } catch {
      await sleep(20); // its last tasks are still leaving
    }
  }
}

/** bpf_stats' run time and count per program name (bpftool's, cut to 15 characters). */
type ProgStats = Map<string, { runTimeNs: number; runCnt: number }>;

/** BPF program ids a process holds, from the `prog_id:` lines of its fds' fdinfo. */
async function progIdsOf(pid: number): Promise<Set<number>> {
  const ids = new Set<number>();
  for await (const fd of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`).catch(() => "");
    const m = info.match(/^prog_id:\s+(\d+)/m);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

// bpftool's `pids` field needs a bpftool built with skeleton support (Debian's is not), so
// the programs are matched by the ids the collector's own fds hold.
async function bpfProgStats(pid: number): Promise<ProgStats | null> {
  const ids = await progIdsOf(pid);
  const out = await new Deno.Command("bpftool", { args: ["-j", "prog", "show"], stderr: "null" })
    .output();
  // No figure rather than a zero that looks measured.
  if (!out.success || ids.size === 0) return null;
  const progs = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    id: number;
    name?: string;
    run_time_ns?: number;
    run_cnt?: number;
  }[];
  const byName: ProgStats = new Map();
  for (const p of progs) {
    if (!ids.has(p.id)) continue;
    const e = byName.get(p.name ?? "") ?? { runTimeNs: 0, runCnt: 0 };
    e.runTimeNs += p.run_time_ns ?? 0;
    e.runCnt += p.run_cnt ?? 0;
    byName.set(p.name ?? "", e);
  }
  return byName;
}

/** Seconds of the empty programs' window after each podperf run (bpf_stats' floor). */
export const FLOOR_WINDOW_S = 5;

/**
 * podperf's BPF run time and runs in a window, less bpf_stats' floor when given: what the same
 * number of runs of an empty program on the same hook cost, measured right after under the same
 * load (`floorNsPerRun`, per hook). bpf_stats times each run with two clock reads of its own; on this
 * VM's kvm-clock that floor is most of the raw figure (BENCHMARKS.md, ninth and eleventh
 * passes), and it is paid by the measurement, not by a node that leaves bpf_stats off. Programs
 * without a floor figure (flush_ended, run by the drain) count raw.
 */
function bpfDelta(
  b0: ProgStats,
  b1: ProgStats,
  floorNsPerRun: Record<string, number> = {},
): { ns: number; runs: number } {
  let ns = 0, runs = 0;
  for (const [name, a] of b1) {
    const b = b0.get(name) ?? { runTimeNs: 0, runCnt: 0 };
    const n = a.runCnt - b.runCnt;
    ns += a.runTimeNs - b.runTimeNs - (floorNsPerRun[name] ?? 0) * n;
    runs += n;
  }
  return { ns, runs };
}

/** One measured run of a tool under a load. */
export interface OverheadSample {
  tool: string;
  load: string;
  toolCpuPct: number;
  /** node-wide busy CPU % of one CPU: with no load it is everything the tool costs */
  nodeBusyPct: number;
  bpfCpuPct: number | null;
  /** bpfCpuPct less bpf_stats' floor (bpfDelta); null where no floor was measured */
  bpfNetCpuPct: number | null;
  bpfNsPerRun: number | null;
  lost: number | null;
  recordsPerS: number | null;
  rowsPerS: number | null;
  bytesPerRow: number | null;
  peakRssMiB: number | null;
  /**
   * How late the bench's own window timer (a normal-priority task) came back, s. Seconds mean the
   * machine itself stalled: on the 2-vCPU VM of BENCHMARKS.md, 8 unpinned pipe tasks sometimes
   * stretch a 1 s `sleep` to 36–109 s with no tool running, and such a row measures the VM.
   */
  timerLateS: number;
}

async function measureTool(
  tool: string,
  argv: string[],
  load: Load | (() => Load),
  windowS: number,
  warmupS: number,
  /** after the tool (podperf) exits, measure bpf_stats' floor under the same load */
  floor = false,
): Promise<OverheadSample> {
  // a load given as a function starts once the tool runs: the agent is there before the storm
  let started: Load | null = null;
  const out = await Deno.makeTempDir({ prefix: "podperf-bench-" });
  const args = argv.map((a) => a.replaceAll("{out}", out));
  // the tool runs in its own cgroup from its first instruction, so all its threads count
  const cg = `${CGROUP2}/podperf-bench-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // podperf with the environment its launch paths give it (lib/malloc.ts)
  const env = tool === "podperf" ? { GLIBC_TUNABLES } : undefined;
  const child = spawnInCgroup(cg, args, { stderr: "piped", env });
  const stderr = new Response(child.stderr).text();
  try {
    if (typeof load === "function") {
      await sleep(3000);
      started = load();
    }
    await sleep(warmupS * 1000);
    const c0 = cgroupCpuSeconds(cg);
    const n0 = nodeBusySeconds();
    const b0 = tool === "podperf" ? await bpfProgStats(child.pid) : null;
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const c1 = cgroupCpuSeconds(cg);
    const n1 = nodeBusySeconds();
    const b1 = tool === "podperf" ? await bpfProgStats(child.pid) : null;
    const wall = (performance.now() - t0) / 1000;
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
    const hwm = status.match(/VmHWM:\s+(\d+)/);
    child.kill("SIGINT");
    // A tool that ignores SIGINT (the `sleep` baseline, when the bench itself was started in the
    // background of a script) would hold the bench for its hour: killed after 30 s.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 30_000)),
    ]);
    clearTimeout(timer);
    if (!exited) child.kill("SIGKILL");
    await child.status;
    const log = await stderr;
    const finished = log.split("\n").filter((l) => l.includes('"collection finished"')).pop();
    const fin = finished ? JSON.parse(finished) : null;
    const raw = b0 && b1 ? bpfDelta(b0, b1) : null;
    const bpfNs = raw?.ns ?? null;
    const bpfRuns = raw?.runs ?? null;
    // the load still runs: empty programs on the same hooks, with the same 1 kHz tick
    const empty = floor && b0 && b1 ? await perEventWindow(FLOOR_WINDOW_S, true) : null;
    const netNs = empty && b0 && b1
      ? bpfDelta(b0, b1, { on_switch: empty.switch.nsPerRun, on_tick: empty.tick.nsPerRun }).ns
      : null;
    return {
      tool,
      load: (started ?? load as Load).name,
      toolCpuPct: round(100 * (c1 - c0) / wall),
      nodeBusyPct: round(100 * (n1 - n0) / wall),
      bpfCpuPct: bpfNs === null ? null : round(100 * bpfNs / 1e9 / wall),
      bpfNetCpuPct: netNs === null ? null : round(100 * netNs / 1e9 / wall),
      bpfNsPerRun: bpfNs !== null && bpfRuns ? Math.round(bpfNs / bpfRuns) : null,
      lost: fin ? Number(fin.lost ?? 0) : null,
      recordsPerS: fin
        ? Math.round(Number(fin.records ?? 0) / (Number(fin.elapsedMs) / 1000))
        : null,
      rowsPerS: fin ? Math.round(Number(fin.rows ?? 0) / (Number(fin.elapsedMs) / 1000)) : null,
      bytesPerRow: fin && Number(fin.rows) > 0
        ? round(await parquetBytes(out) / Number(fin.rows))
        : null,
      peakRssMiB: hwm ? round(Number(hwm[1]) / 1024) : null,
      timerLateS: round(wall - windowS),
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await started?.stop();
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await removeCgroup(cg);
  }
}

async function parquetBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".parquet")) n += (await Deno.stat(`${dir}/${e.name}`)).size;
  }
  return n;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The tools compared, as argv templates ({out} = a fresh temp dir). */
export function tools(intervalMs = 1): Record<string, string[]> {
  return {
    // baseline: what the node does under the load with no tool at all
    "(no tool)": ["sleep", "3600"],
    podperf: [
      deno,
      "run",
      "-A",
      `--v8-flags=${V8_FLAGS}`,
      "main.ts",
      "collect",
      "--output",
      "{out}",
      "--interval",
      `${intervalMs}ms`,
      "--log-level",
      "info",
      "--no-summary",
    ],
    "perf stat": [
      "perf",
      "stat",
      "-a",
      "-e",
      "task-clock,context-switches",
      "-I",
      "1000",
      "-o",
      "{out}/stat.txt",
    ],
    "perf record": ["perf", "record", "-a", "-F", "1000", "-g", "-o", "{out}/perf.data"],
    // reference for the idle floor: the runtime alone waking once a second, doing nothing
    "deno, 1 Hz timer": [deno, "eval", "setInterval(() => {}, 1000)"],
  };
}

async function enableBpfStats(): Promise<() => Promise<void>> {
  const path = "/proc/sys/kernel/bpf_stats_enabled";
  const before = (await Deno.readTextFile(path).catch(() => "0")).trim();
  await Deno.writeTextFile(path, "1").catch(() => {});
  return async () => {
    await Deno.writeTextFile(path, before).catch(() => {});
  };
}

/**
 * Warm-up before podperf's window, s. Its first ~20 s include V8 compiling the hot paths on its
 * helper threads: measured from 6 s on, a sched-pipe pair's collector took 2.2–2.8% of one CPU, of
 * which the helpers 0.9–1.2%; from 40 s on, 1.4–1.6% and 0.14–0.22% (BENCHMARKS.md, seventh
 * pass). A node pays the steady state for weeks; the tools without a JIT need no such wait.
 * Until the agent turned off V8's memory reducer (lib/cli/v8_flags.ts), its GCs from 30 s on
 * raised the collector's CPU until ≈ 70 s, so windows from 40 s measured that too (the startup
 * section shows both curves).
 */
export const PODPERF_WARMUP_S = 40;

/**
 * Window on an idle node, s: the collector drains a quiet node every 5 s (MAX_DRAIN_WAIT_MS), so
 * an 8 s window holds one drain or two, and its figure would swing by half between runs.
 */
export const IDLE_WINDOW_S = 30;

/** Median of `reps` runs per (tool, load), with the spread (min–max) of the tool CPU %. */
export async function benchOverhead(
  opts: { windowS?: number; reps?: number; warmupS?: number; podperfWarmupS?: number } = {},
): Promise<Record<string, unknown>[]> {
  const windowS = opts.windowS ?? 8, reps = opts.reps ?? 3, warmupS = opts.warmupS ?? 3;
  const podperfWarmupS = opts.podperfWarmupS ?? PODPERF_WARMUP_S;
  const restore = await enableBpfStats();
  const rows: Record<string, unknown>[] = [];
  try {
    const loads = [idle, () => busy(2), pingPong, () => cPingPong(1, 50), schedPipe];
    const cpus = navigator.hardwareConcurrency;
    for (const makeLoad of loads) {
      const ofLoad: Record<string, unknown>[] = [];
      for (const [tool, argv] of Object.entries(tools())) {
        if (tool.startsWith("deno,") && makeLoad !== idle) continue;
        const samples: OverheadSample[] = [];
        const warm = tool === "podperf" ? podperfWarmupS : warmupS;
        const win = makeLoad === idle ? Math.max(windowS, IDLE_WINDOW_S) : windowS;
        for (let r = 0; r < reps; r++) {
          const load = makeLoad();
          try {
            samples.push(await measureTool(tool, argv, load, win, warm, tool === "podperf"));
          } finally {
            await load.stop();
          }
        }
        ofLoad.push({ ...summarize(samples), "warm-up s": warm });
      }
      // What each tool costs the node: its own CPU plus its BPF programs for podperf; for
      // all, the node's extra busy time over the same load with no tool (where perf record's
      // sampling interrupts show, charged to the interrupted tasks), both in % of all CPUs.
      const base = ofLoad.find((r) => r.tool === "(no tool)")?.["node busy %"] as number;
      for (const r of ofLoad) {
        if (r.tool === "(no tool)") continue;
        const own = (r["cpu % (median)"] as number) + ((r["bpf cpu %"] as number | null) ?? 0);
        r["share of node %"] = round(own / cpus);
        const net = r["bpf net cpu %"] as number | undefined;
        if (net !== undefined) {
          r["share of node net of floor %"] = round(((r["cpu % (median)"] as number) + net) / cpus);
        }
        r["node busy Δ % of node"] = round(((r["node busy %"] as number) - base) / cpus);
      }
      rows.push(...ofLoad);
    }
  } finally {
    await restore();
  }
  return rows;
}

/** podperf's cost vs number of busy/short-lived processes and vs sampling interval. */
export async function benchGrowth(
  opts: { windowS?: number; reps?: number; warmupS?: number } = {},
): Promise<Record<string, unknown>[]> {
  const windowS = opts.windowS ?? 6, reps = opts.reps ?? 3, warmupS = opts.warmupS ?? 3;
  const restore = await enableBpfStats();
  const rows: Record<string, unknown>[] = [];
  const cases: [string, () => Load, number][] = [
    ["1 busy", () => busy(1), 1],
    ["10 busy", () => busy(10), 1],
    ["100 busy", () => busy(100), 1],
    ["1000 short-lived/s", () => forks(1000), 1],
    ["2 busy @ 10 ms", () => busy(2), 10],
    ["2 busy @ 100 ms", () => busy(2), 100],
  ];
  try {
    for (const [name, makeLoad, intervalMs] of cases) {
      const samples: OverheadSample[] = [];
      for (let r = 0; r < reps; r++) {
        const load = makeLoad();
        try {
          samples.push(
            await measureTool("podperf", tools(intervalMs).podperf, load, windowS, warmupS),
          );
        } finally {
          await load.stop();
        }
      }
      rows.push({ case: name, interval_ms: intervalMs, ...summarize(samples) });
    }
  } finally {
    await restore();
  }
  return rows;
}

function summarize(samples: OverheadSample[]): Record<string, unknown> {
  const cpu = samples.map((s) => s.toolCpuPct);
  const med = (k: keyof OverheadSample) => {
    const xs = samples.map((s) => s[k]).filter((x): x is number => typeof x === "number");
    return xs.length ? median(xs) : null;
  };
  return {
    tool: samples[0].tool,
    load: samples[0].load,
    "cpu % (median)": median(cpu),
    "cpu % spread": `${Math.min(...cpu)}–${Math.max(...cpu)}`,
    "node busy %": med("nodeBusyPct"),
    "bpf cpu %": med("bpfCpuPct"),
    // only where a floor was measured (the overhead table), not a column of nulls elsewhere
    ...(samples.some((s) => s.bpfNetCpuPct !== null)
      ? { "bpf net cpu %": med("bpfNetCpuPct") }
      : {}),
    "bpf ns/run": med("bpfNsPerRun"),
    "records/s": med("recordsPerS"),
    lost: med("lost"),
    "rows/s": med("rowsPerS"),
    "bytes/row": med("bytesPerRow"),
    "peak RSS MiB": med("peakRssMiB"),
    "timer late s (max)": Math.max(...samples.map((s) => s.timerLateS)),
  };
}

/**
 * podperf alone on a saturated node: 2 to 64 runnable pipe ping-pong tasks on the node's CPUs,
 * then 32 and 64 pinned half per CPU; lost (carried) records, records and rows per second, bytes
 * per row and peak RSS.
 */
export async function benchSaturation(
  opts: { windowS?: number; warmupS?: number; tasks?: number[]; pinnedTasks?: number[] } = {},
): Promise<Record<string, unknown>[]> {
  const windowS = opts.windowS ?? 8;
  const restore = await enableBpfStats();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const n of opts.tasks ?? [2, 8, 32, 64]) {
      // The agent runs before the load starts, as a DaemonSet does; lost and RSS cover the
      // whole run, the storm's onset included. (Started into a saturated node, the runtime
      // itself loads at normal priority and can take longer than any warm-up.)
      const s = await measureTool(
        "podperf",
        tools().podperf,
        () => cPingPong(n / 2, 0),
        windowS,
        opts.warmupS ?? 3,
      );
      rows.push({ "runnable tasks": n, ...summarize([s]) });
    }
    // The same storms pinned half per CPU: what this VM can run without stalling (the unpinned
    // rows above may measure the VM's stall rather than podperf).
    const cpus = onlineCpus();
    for (const n of opts.pinnedTasks ?? [32, 64]) {
      const pairs = Math.max(1, Math.round(n / 2 / cpus.length));
      const s = await measureTool(
        "podperf",
        tools().podperf,
        () => pinnedPingPong(pairs, cpus),
        windowS,
        opts.warmupS ?? 3,
      );
      rows.push({ "runnable tasks": `${2 * pairs * cpus.length} pinned`, ...summarize([s]) });
    }
  } finally {
    await restore();
  }
  return rows;
}

if (import.meta.main) {
  const which = Deno.args[0] ?? "overhead";
  if (which === "saturation") console.table(await benchSaturation());
  else console.table(await benchOverhead({ reps: 1, windowS: 5 }));
}

/** Collector RSS (current and peak) after `seconds` of collection under two busy loops. */
export async function benchMemory(
  opts: { seconds?: number } = {},
): Promise<Record<string, unknown>[]> {
  const seconds = opts.seconds ?? 60;
  const out = await Deno.makeTempDir({ prefix: "podperf-bench-" });
  const load = busy(2);
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      `--v8-flags=${V8_FLAGS}`,
      "main.ts",
      "collect",
      "--output",
      out,
      "--no-summary",
      "--log-level",
      "warn",
    ],
    cwd: root,
    env: { GLIBC_TUNABLES },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const rss: number[] = [];
    for (let t = 0; t < seconds; t += 5) {
      await sleep(5000);
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      rss.push(Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024);
    }
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const peak = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
    return [{
      "after s": seconds,
      "RSS MiB": round(rss[rss.length - 1]),
      "peak RSS MiB": round(peak),
      "RSS at 5 s MiB": round(rss[0]),
    }];
  } finally {
    child.kill("SIGINT");
    await child.status;
    await load.stop();
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/**
 * Where the collector's userspace time goes under one sched-pipe pair: one collector per step of
 * the path (BENCH_STOPS: records read and dropped, aggregated, joined, packed; and the whole
 * path to Parquet), all running side by side under the same load, each in its own cgroup. On
 * the VM of BENCHMARKS.md the same build measures 1.1% of one CPU in one window and 2.4% in the
 * next, and the swing is common to every process: differences between processes of one run
 * hold where figures from separate runs do not. Each collector also records the others' few
 * wake-ups (tens a second, against thousands of records), and each runs its own BPF programs in
 * the pair's switches: the figures compare steps, not the node's bill (that is the overhead
 * section). Rounds start the collectors in opposite orders.
 */
export async function benchStages(
  opts: { windowS?: number; warmupS?: number; rounds?: number } = {},
): Promise<Record<string, unknown>[]> {
  const windowS = opts.windowS ?? 30, warmupS = opts.warmupS ?? PODPERF_WARMUP_S;
  const rounds = opts.rounds ?? 3;
  // every cut of the path, in order, then the whole path to Parquet
  const steps = [...BENCH_STOPS, "parquet"] as const;
  const pct: Record<string, number[]> = Object.fromEntries(steps.map((s) => [s, []]));
  const [, ...argv] = tools().podperf;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [...steps] : [...steps].reverse();
    const runs: {
      step: string;
      cg: string;
      out: string;
      child: Deno.ChildProcess;
      exited: boolean;
    }[] = [];
    const load = schedPipe();
    try {
      for (const step of order) {
        const out = await Deno.makeTempDir({ prefix: "podperf-stages-" });
        const cg = `${CGROUP2}/podperf-stages-${Deno.pid}-${step}`;
        const stop: Record<string, string> = step === "parquet" ? {} : { [BENCH_STOP_ENV]: step };
        const env: Record<string, string> = { GLIBC_TUNABLES, ...stop };
        const args = argv.map((a) => a.replaceAll("{out}", out));
        const run = {
          step,
          cg,
          out,
          child: spawnInCgroup(cg, [deno, ...args], { env }),
          exited: false,
        };
        void run.child.status.then(() => (run.exited = true));
        runs.push(run);
      }
      await sleep(warmupS * 1000);
      const c0 = runs.map((x) => cgroupCpuSeconds(x.cg));
      const t0 = performance.now();
      await sleep(windowS * 1000);
      const wall = (performance.now() - t0) / 1000;
      // one that died early (cannot attach, a bad stop) would read as a cheap step
      const died = runs.find((x) => x.exited);
      if (died) throw new Error(`the collector stopping after ${died.step} exited during the run`);
      runs.forEach((x, i) => pct[x.step].push(100 * (cgroupCpuSeconds(x.cg) - c0[i]) / wall));
    } finally {
      await stopSideBySide(runs, load);
    }
  }
  // Differences are taken within a round, where the collectors shared the host's noise.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return steps.map((step, k) => ({
    "stops after": step,
    "cpu % of one CPU (mean)": round(mean(pct[step])),
    "per round": pct[step].map(round).join(" / "),
    "this step, % of one CPU (mean of rounds)": round(
      k === 0 ? mean(pct[step]) : mean(pct[step].map((v, r) => v - pct[steps[k - 1]][r])),
    ),
  }));
}
