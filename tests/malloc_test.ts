import assert from "@podperf/assert";
import {
  GLIBC_TUNABLES,
  holdMallocHeadroom,
  trimMalloc,
  WORKER_ARENA_BYTES,
} from "../lib/malloc.ts";
import { release } from "../lib/output/release.ts";
import { runScript } from "./helpers/run_script.ts";

const ROOT = new URL("../", import.meta.url);

/** This process's resident memory, MiB. */
function rssMiB(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

Deno.test("trimMalloc gives freed malloc pages back to the kernel", () => {
  // 64 MiB in 4 KiB blocks (below malloc's mmap threshold, so they come from its heap), every
  // 16th kept: the free space between them is what only a trim returns.
  const blocks = Array.from({ length: 16_384 }, () => new Uint8Array(4096).fill(1));
  const kept = blocks.filter((_, i) => i % 16 === 0);
  release(...blocks.filter((_, i) => i % 16 !== 0));
  const before = rssMiB();
  assert.equal(trimMalloc(), true, "glibc's malloc_trim is reachable");
  const after = rssMiB();
  console.log(`RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB`);
  assert.ok(before - after >= 12, `trim returned ${(before - after).toFixed(1)} MiB of ~60 freed`);
  assert.equal(kept[1][0], 1, "kept blocks are intact");
  release(...kept);
});

/** What a fresh process's main heap did through two bursts. */
interface HeapRun {
  source: string;
  /** the end of `[heap]` after the first burst, and after the second */
  firstEnd: number;
  secondEnd: number;
}

/**
 * Runs a program that trims malloc's main heap to nothing (as the agent does after each file),
 * then allocates 3 MiB in 4 KiB blocks on its main thread (where the drain runs, on that heap),
 * twice, keeping both. `policy`: "agent" asks for the agent's headroom (a no-op where
 * `tunables`, its GLIBC_TUNABLES, already has it), "glibc" keeps the defaults.
 */
async function heapThroughBursts(policy: "agent" | "glibc", tunables = ""): Promise<HeapRun> {
  const { stdout } = await runScript({
    "main.js": `import { holdMallocHeadroom, trimMalloc } from "${new URL("lib/malloc.ts", ROOT)}";
      const heapEnd = () => parseInt(Deno.readTextFileSync("/proc/self/maps").split("\\n")
        .find((l) => l.endsWith("[heap]")).split(" ")[0].split("-")[1], 16);
      const burst = () => Array.from({ length: 768 }, () => new Uint8Array(4096).fill(1));
      const source = Deno.args[0] === "agent" ? holdMallocHeadroom().source : "glibc";
      trimMalloc();
      const first = burst();
      const firstEnd = heapEnd();
      const second = burst();
      console.log(JSON.stringify({ source, firstEnd, secondEnd: heapEnd(), kept: first.length + second.length }));`,
  }, { args: [policy], env: { GLIBC_TUNABLES: tunables } });
  return JSON.parse(stdout);
}

Deno.test("with the agent's malloc settings the drain's heap grows in one step through two bursts", async () => {
  // The environment the launch paths set (a misspelt tunable would be ignored by glibc).
  const fromEnv = await heapThroughBursts("agent", GLIBC_TUNABLES);
  assert.equal(fromEnv.source, "environment");
  assert.equal(fromEnv.secondEnd, fromEnv.firstEnd, JSON.stringify(fromEnv));
  // Set at start-up, for a launch without it.
  const fromMallopt = await heapThroughBursts("agent");
  assert.equal(fromMallopt.source, "mallopt");
  assert.equal(fromMallopt.secondEnd, fromMallopt.firstEnd, JSON.stringify(fromMallopt));
  // With glibc's defaults the first burst leaves ~128 KiB spare and the second grows the heap
  // again (brk), so the checks can fail.
  const glibc = await heapThroughBursts("glibc");
  assert.ok(glibc.secondEnd > glibc.firstEnd, JSON.stringify(glibc));
});

/**
 * The end of the mapping that holds a Worker's malloc arena, before and after the Worker
 * allocates 16 MiB in 4 KiB blocks and frees them, with or without reserveArena first.
 */
async function workerArenaThroughBurst(
  reserve: boolean,
): Promise<{ before: number; after: number }> {
  const { stdout } = await runScript({
    "worker.js": `import { reserveArena, WORKER_ARENA_BYTES } from "${new URL(
      "lib/malloc.ts",
      ROOT,
    )}";
      import { release } from "${new URL("lib/output/release.ts", ROOT)}";
      // an address inside the arena this thread's typed arrays come from (4 KiB: not from
      // malloc's per-thread cache, which may hold another arena's blocks)
      const probe = new Uint8Array(4096);
      const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(probe)));
      const end = () => {
        for (const l of Deno.readTextFileSync("/proc/self/maps").trim().split("\\n")) {
          const [a, b] = l.split(" ")[0].split("-").map((x) => BigInt("0x" + x));
          if (a <= at && at < b) return Number(b - at);
        }
      };
      if (${reserve}) reserveArena(WORKER_ARENA_BYTES);
      const before = end();
      release(...Array.from({ length: 4096 }, () => new Uint8Array(4096).fill(1)));
      const after = end();
      self.postMessage({ before, after });`,
    "main.js": `const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
      w.onmessage = (e) => { console.log(JSON.stringify(e.data)); w.terminate(); };`,
  }, { env: { GLIBC_TUNABLES } });
  return JSON.parse(stdout);
}

Deno.test("a Worker's reserved arena goes through a burst without growing its mapping", async () => {
  const reserved = await workerArenaThroughBurst(true);
  assert.ok(reserved.before >= WORKER_ARENA_BYTES / 2, JSON.stringify(reserved));
  assert.equal(reserved.after, reserved.before, JSON.stringify(reserved));
  // Without the reservation the same burst grows the arena (mprotect), so the check can fail.
  const bare = await workerArenaThroughBurst(false);
  assert.ok(bare.after > bare.before, JSON.stringify(bare));
});

Deno.test("a user's own malloc tunables win over the agent's headroom", () => {
  const mine = "glibc.malloc.arena_max=2:glibc.malloc.top_pad=1048576";
  assert.deepEqual(holdMallocHeadroom(mine), { source: "environment", detail: mine });
});

Deno.test("every launch path sets the agent's malloc tunables: the collect task, the image, the tests and benchmarks", async () => {
  const read = (p: string) => Deno.readTextFile(new URL(p, ROOT));
  const tasks = JSON.parse(await read("deno.json")).tasks;
  assert.ok(tasks.collect.startsWith(`GLIBC_TUNABLES=${GLIBC_TUNABLES} `), tasks.collect);
  assert.match(await read("Dockerfile"), new RegExp(`^ENV GLIBC_TUNABLES=${GLIBC_TUNABLES}$`, "m"));
  for (const launcher of ["tests/e2e/podperf_process.ts", "bench/overhead_bench.ts"]) {
    assert.match(await read(launcher), /GLIBC_TUNABLES/, launcher);
  }
});
