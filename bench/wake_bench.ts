/**
 * What a wake-up costs on this machine, apart from podperf: the same small piece of work timed
 * back to back and right after the thread slept 10 ms, 100 ms and 1 s. On a VM whose vCPU is
 * halted (and whose caches other guests reuse) while it sleeps, the first work after a wake
 * runs many times slower; an idle agent is mostly that first work, so its floor is set by how
 * often it wakes and how much it touches each time, far more than by what it computes.
 */

const SLEEPS_MS = [0, 10, 100, 1000];
const REPS = 5;

/** 20 k dependent multiply-adds: code only, no data to fetch. */
function arithmetic(): number {
  let s = 1;
  for (let i = 0; i < 20_000; i++) s = (s * 1103515245 + 12345) | 0;
  return s;
}

const table = new Float64Array(1 << 16); // 512 KiB
/** 20 k scattered reads and writes over 512 KiB: a working set like the aggregator's. */
function memory(): number {
  let s = 0;
  for (let i = 0; i < 20_000; i++) {
    s += table[(i * 7919) & 0xffff];
    table[i & 0xffff] = s;
  }
  return s;
}

/** One small file read through the runtime's op layer: what a drain's first syscall costs. */
function runtimeOp(): number {
  return Deno.readTextFileSync("/proc/loadavg").length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ms of `work` right after sleeping each of SLEEPS_MS (0: back to back, warm). */
export async function benchWake(): Promise<Record<string, unknown>[]> {
  const works: [string, () => number][] = [
    ["arithmetic (20 k ops)", arithmetic],
    ["memory (20 k accesses, 512 KiB)", memory],
    ["runtime op (read a /proc file)", runtimeOp],
  ];
  for (const [, w] of works) for (let i = 0; i < 200; i++) w(); // compiled and warm
  const rows: Record<string, unknown>[] = [];
  for (const [name, work] of works) {
    const row: Record<string, unknown> = { work: name };
    for (const ms of SLEEPS_MS) {
      const t: number[] = [];
      for (let r = 0; r < REPS; r++) {
        if (ms > 0) await sleep(ms);
        else work();
        const t0 = performance.now();
        work();
        t.push(performance.now() - t0);
      }
      row[ms === 0 ? "back to back ms" : `after ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}`] =
        +median(t).toFixed(3);
    }
    row["1 s / warm"] = +((row["after 1 s"] as number) / (row["back to back ms"] as number))
      .toFixed(0);
    rows.push(row);
  }
  return rows;
}
