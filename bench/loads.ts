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
