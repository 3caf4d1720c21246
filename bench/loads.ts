/** Synthetic loads for the benchmarks: CPU-bound loops, a context-switch ping-pong, short-lived processes. */

/** A running load; `stop()` kills every process it started. */
export interface Load {
  name: string;
  pids: number[];
  stop(): Promise<void>;
}

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

async function killAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* already gone */ }
  }
  await Promise.all(children.map((c) => c.status));
}

/** No load at all. */
export function idle(): Load {
  return { name: "idle", pids: [], stop: async () => {} };
}

/** `n` shell busy loops. */
export function busy(n: number): Load {
  const children = Array.from({ length: n }, () => spawn("sh", ["-c", "while :; do :; done"]));
  return { name: `${n} busy`, pids: children.map((c) => c.pid), stop: () => killAll(children) };
}

// Two processes bouncing one byte over a pair of pipes: every hop is a context switch on
// each side, so this is the worst case for the sched_switch hook.
const PING_PONG = `
import os, sys
a_r, a_w = os.pipe(); b_r, b_w = os.pipe()
if os.fork() == 0:
    while True:
        os.read(a_r, 1); os.write(b_w, b"x")
while True:
    os.write(a_w, b"x"); os.read(b_r, 1)
`;

/** A ping-pong pair of processes (context-switch heavy). */
export function pingPong(): Load {
  const child = spawn("python3", ["-c", PING_PONG]);
  return {
    name: "ping-pong",
    pids: [child.pid],
    stop: async () => {
      // The forked partner is in the same process group only if we make it so; kill by parent.
      await new Deno.Command("pkill", { args: ["-KILL", "-P", String(child.pid)] }).output();
      await killAll([child]);
    },
  };
}

/** `perSecond` short-lived processes started every second (each runs `true`). */
export function forks(perSecond: number): Load {
  const script =
    `while :; do i=0; while [ $i -lt ${perSecond} ]; do /bin/true; i=$((i+1)); done; sleep 1; done`;
  const child = spawn("sh", ["-c", script]);
  return {
    name: `${perSecond} short-lived/s`,
    pids: [child.pid],
    stop: async () => {
      await new Deno.Command("pkill", { args: ["-KILL", "-P", String(child.pid)] }).output();
      await killAll([child]);
    },
  };
}

const PINGPONG_C = `
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int us = argc > 1 ? atoi(argv[1]) : 0, pairs = argc > 2 ? atoi(argv[2]) : 1;
  for (int p = 1; p < pairs; p++) if (fork() == 0) break;
  int a[2], b[2];
  char c = 'x';
  if (pipe(a) || pipe(b)) return 1;
  if (fork() == 0) {
    for (;;) { if (read(a[0], &c, 1) != 1) return 0; if (us) usleep(us); if (write(b[1], &c, 1) != 1) return 0; }
  }
  for (;;) { if (us) usleep(us); if (write(a[1], &c, 1) != 1) return 0; if (read(b[0], &c, 1) != 1) return 0; }
}
`;

let pingPongBin: string | undefined;

function pingPongBinary(): string {
  if (pingPongBin) return pingPongBin;
  const dir = Deno.makeTempDirSync({ prefix: "podperf-bench-load-" });
  Deno.writeTextFileSync(`${dir}/pingpong.c`, PINGPONG_C);
  const out = new Deno.Command("cc", { args: ["-O2", "-o", `${dir}/pp`, `${dir}/pingpong.c`] })
    .outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return pingPongBin = `${dir}/pp`;
}

/** Kills `child` and every process it forked (they share its process group). */
function groupLoad(name: string, argv: string[]): Load {
  // setsid: the load's processes form their own group, killed together
  const child = spawn("setsid", argv);
  return {
    name,
    pids: [child.pid],
    stop: async () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch { /* gone */ }
      await killAll([child]);
    },
  };
}

/**
 * `pairs` ping-pong pairs over pipes, each side sleeping `usleep` µs before answering (0: a
 * pure pipe ping-pong, like `perf bench sched pipe`). usleep(50) is the timer-woken shape of
 * request/response services, where ktime stretches between switches miss up to a third of
 * what the scheduler charges.
 */
export function cPingPong(pairs: number, usleep: number): Load {
  const name = usleep ? `${pairs} usleep(${usleep}) pair(s)` : `${2 * pairs} pipe ping-pong tasks`;
  return groupLoad(name, [pingPongBinary(), String(usleep), String(pairs)]);
}

/**
 * `pairs` pure pipe ping-pong pairs on each CPU of `cpus`, pinned there: the node as saturated
 * as unpinned pairs make it, without the cross-CPU wake-ups under which the 2-vCPU VM of
 * BENCHMARKS.md stalls for minutes.
 */
export function pinnedPingPong(pairs: number, cpus: number[]): Load {
  const loads = cpus.map((cpu) =>
    groupLoad(`cpu${cpu}`, ["taskset", "-c", String(cpu), pingPongBinary(), "0", String(pairs)])
  );
  return {
    name: `${2 * pairs * cpus.length} pipe ping-pong tasks, ${2 * pairs} pinned per CPU`,
    pids: loads.flatMap((l) => l.pids),
    stop: async () => {
      await Promise.all(loads.map((l) => l.stop()));
    },
  };
}

/** `perf bench sched pipe` (one pair of processes, 87–111 k switches/s here). */
export function schedPipe(): Load {
  return groupLoad("sched-pipe pair", ["perf", "bench", "sched", "pipe", "-l", "2000000000"]);
}
