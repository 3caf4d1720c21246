/**
 * The collector's CPU from launch, window by window, under one sched-pipe pair: the agent's V8
 * flags next to the same flags with V8's memory reducer left on. Both collectors run side by
 * side under the same load, each in its own cgroup, because this host's noise swings every
 * process together (BENCHMARKS.md, tenth pass); rounds start them in opposite orders. Each also
 * runs its own BPF programs in the pair's switches: the figures compare the two processes, not
 * the node's bill (that is the overhead section).
 */
import { V8_FLAGS } from "../lib/cli/v8_flags.ts";
import { GLIBC_TUNABLES } from "../lib/malloc.ts";
import { schedPipe } from "./loads.ts";
import {
  CGROUP2,
  cgroupCpuSeconds,
  spawnInCgroup,
  stopSideBySide,
  tools,
} from "./overhead_bench.ts";

/** The agent's flags without `--no-memory-reducer`: V8's default for the reducer. */
export const WITH_MEMORY_REDUCER = V8_FLAGS.split(",").filter((f) => f !== "--no-memory-reducer")
  .join(",");

export async function benchStartup(
  opts: { stepS?: number; steps?: number; rounds?: number } = {},
): Promise<Record<string, unknown>[]> {
  const stepS = opts.stepS ?? 10, steps = opts.steps ?? 9, rounds = opts.rounds ?? 2;
  const variants: [string, string][] = [
    ["agent's flags", V8_FLAGS],
    ["memory reducer on", WITH_MEMORY_REDUCER],
  ];
  const [deno, ...argv] = tools().podperf;
  const perRound: { flags: string; round: number; pct: number[] }[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    const runs: {
      flags: string;
      cg: string;
      out: string;
      child: Deno.ChildProcess;
      exited: boolean;
    }[] = [];
    const load = schedPipe();
    try {
      for (const [name, flags] of order) {
        const out = await Deno.makeTempDir({ prefix: "podperf-startup-" });
        const cg = `${CGROUP2}/podperf-startup-${Deno.pid}-${runs.length}`;
        const args = argv.map((a) =>
          a.replaceAll("{out}", out).replace(`--v8-flags=${V8_FLAGS}`, `--v8-flags=${flags}`)
        );
        const run = {
          flags: name,
          cg,
          out,
          child: spawnInCgroup(cg, [deno, ...args], { env: { GLIBC_TUNABLES } }),
          exited: false,
        };
        void run.child.status.then(() => (run.exited = true));
        runs.push(run);
      }
      const pct = runs.map(() => [] as number[]);
      let c0 = runs.map((x) => cgroupCpuSeconds(x.cg)), t0 = performance.now();
      for (let s = 0; s < steps; s++) {
        await new Promise((res) => setTimeout(res, stepS * 1000));
        const c1 = runs.map((x) => cgroupCpuSeconds(x.cg)), t1 = performance.now();
        runs.forEach((_, i) => pct[i].push((100 * (c1[i] - c0[i])) / ((t1 - t0) / 1000)));
        c0 = c1;
        t0 = t1;
      }
      // one that died early (cannot attach) would read as a cheap start
      const died = runs.find((x) => x.exited);
      if (died) throw new Error(`the collector with ${died.flags} exited during the run`);
      runs.forEach((x, i) => perRound.push({ flags: x.flags, round: r + 1, pct: pct[i] }));
    } finally {
      await stopSideBySide(runs, load);
    }
  }
  const label = (s: number) => `${s * stepS}–${(s + 1) * stepS} s`;
  const row = (flags: string, round: string, pct: number[]) =>
    Object.fromEntries([
      ["flags", flags],
      ["round", round],
      ...pct.map((v, s) => [label(s), Math.round(v * 100) / 100]),
    ]);
  const rows = perRound.map((x) => row(x.flags, String(x.round), x.pct));
  for (const [name] of variants) {
    const mine = perRound.filter((x) => x.flags === name);
    const mean = mine[0].pct.map((_, s) => mine.reduce((a, x) => a + x.pct[s], 0) / mine.length);
    rows.push(row(name, "mean", mean));
  }
  return rows;
}

if (import.meta.main) console.table(await benchStartup());
