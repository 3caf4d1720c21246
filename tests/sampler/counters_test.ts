/**
 * The task-count slots (page_faults, context_switches) against the kernel's own per-thread
 * counts: /proc/PID/task/TID/stat minflt + majflt and /proc/PID/task/TID/status voluntary +
 * nonvoluntary context switches, which the kernel only ever advances for the running task.
 * Compared per process: runs of one process in one slot are summed into one record, whichever
 * of its threads ran them.
 */
import assert from "@podperf/assert";
import { decodeRecord, FLAG_SWITCH, FLAG_UNSEEN, OFF, Sampler } from "../../lib/sampler/mod.ts";
import { COUNTER_NAMES } from "../../lib/sampler/counter_table.ts";
import { compiledC } from "./fixtures/loads.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two threads that each fault in fresh pages, sleep and spin across ticks, then block for good
// once the main thread has printed "done": their counts stop before the test reads them.
const FAULTER_C = `
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
static int ready[2];
static void work(void) {
  for (int round = 0; round < 20; round++) {
    char *p = mmap(0, 256 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 256; i++) p[i << 12] = 1;
    munmap(p, 256 << 12);
    usleep(300);
    for (volatile long i = 0; i < 10000000; i++) {}
  }
}
static void *worker(void *arg) {
  char c = 'r';
  work();
  if (write(ready[1], &c, 1) != 1) return 0;
  for (;;) pause();
}
int main(void) {
  pthread_t t;
  char c;
  if (pipe(ready) || pthread_create(&t, 0, worker, 0)) return 1;
  work();
  if (read(ready[0], &c, 1) != 1) return 1;
  printf("done\\n");
  fflush(stdout);
  for (;;) pause();
}
`;

/** minflt + majflt and voluntary + nonvoluntary switches of one thread, from /proc. */
function kernelCounts(pid: number, tid: number): { faults: bigint; switches: bigint } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
  // fields after "(comm)": state is field 3, minflt 10, majflt 12
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/status`);
  const sw = (k: string) => BigInt(status.match(new RegExp(`^${k}:\\s+(\\d+)`, "m"))![1]);
  return {
    faults: BigInt(f[10 - 3]) + BigInt(f[12 - 3]),
    switches: sw("voluntary_ctxt_switches") + sw("nonvoluntary_ctxt_switches"),
  };
}

/** What the sampler recorded for one run of the faulter, next to the kernel's counts. */
interface FaulterRun {
  got: { faults: bigint; switches: bigint; records: number; atTick: number; unseen: number };
  kernel: { faults: bigint; switches: bigint };
}

/** Runs the faulter to its end under `s` and reads both sides. */
async function runFaulter(s: Sampler, bin: string): Promise<FaulterRun> {
  const faultSlot = COUNTER_NAMES.indexOf("page_faults");
  const switchSlot = COUNTER_NAMES.indexOf("context_switches");
  const child = new Deno.Command(bin, { stdin: "null", stdout: "piped", stderr: "null" }).spawn();
  try {
    const got = { faults: 0n, switches: 0n, records: 0, atTick: 0, unseen: 0 };
    const take = (v: DataView, off: number) => {
      if (v.getUint32(off + OFF.tgid, true) !== child.pid) return;
      const r = decodeRecord(v, off);
      got.records++;
      if (!(r.flags & FLAG_SWITCH)) got.atTick++;
      if (r.flags & FLAG_UNSEEN) {
        // a run no switch showed begin: its counts are unknown, never guessed
        assert.ok(r.counters[faultSlot] === null && r.counters[switchSlot] === null);
        got.unseen++;
        return;
      }
      assert.ok(r.counters[faultSlot] !== null && r.counters[switchSlot] !== null);
      got.faults += r.counters[faultSlot]!;
      got.switches += r.counters[switchSlot]!;
    };
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    let pending = reader.read();
    const deadline = performance.now() + 30_000;
    while (!out.includes("done")) {
      assert.ok(performance.now() < deadline, "the faulter did not finish in 30 s");
      s.drain(take);
      const chunk = await Promise.race([pending, sleep(50).then(() => null)]);
      if (!chunk) continue;
      if (chunk.done) break;
      out += chunk.value;
      pending = reader.read();
    }
    assert.match(out, /done/);
    // Both threads now block in pause(); their last switch-out has been counted.
    await sleep(300);
    const tids = [...Deno.readDirSync(`/proc/${child.pid}/task`)].map((e) => Number(e.name));
    assert.equal(tids.length, 2);
    const kernel = { faults: 0n, switches: 0n };
    for (const tid of tids) {
      const k = kernelCounts(child.pid, tid);
      assert.ok(k.faults >= 20n * 256n, `thread ${tid}: only ${k.faults} faults`);
      assert.ok(k.switches >= 20n, `thread ${tid}: only ${k.switches} switches`);
      kernel.faults += k.faults;
      kernel.switches += k.switches;
    }
    for (let i = 0; i < 5; i++) {
      await sleep(50);
      s.drain(take); // sends what the CPUs held for the slots that ended (flush_ended)
    }
    return { got, kernel };
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

Deno.test("page_faults and context_switches of a process equal the kernel's counts of its threads, exactly", async () => {
  const bin = await compiledC("faulter", FAULTER_C, ["-pthread"]);
  const faultSlot = COUNTER_NAMES.indexOf("page_faults");
  const switchSlot = COUNTER_NAMES.indexOf("context_switches");
  const s = Sampler.open({ ringBytes: 16 << 20 });
  try {
    assert.equal(s.counterSources[faultSlot].source, "software");
    assert.equal(s.counterSources[faultSlot].detail, "per-task min_flt+maj_flt");
    assert.equal(s.counterSources[switchSlot].detail, "per-task nvcsw+nivcsw");
    // Exact only for runs a switch showed begin. This VM's kernel never shows the switch-out
    // of its own agent's threads (tokio-rt-worker, pid 1), so about one faulter run in ten has
    // a run begin unseen: its counts are unknown (null), the others must still not overshoot,
    // and another run is taken. Three in a row would mean something else hides switches.
    for (let attempt = 1;; attempt++) {
      const { got, kernel } = await runFaulter(s, bin);
      console.log(
        `faults ${got.faults} (kernel ${kernel.faults}), switches ${got.switches} ` +
          `(kernel ${kernel.switches}), ${got.records} records, ${got.atTick} ended at a tick, ` +
          `${got.unseen} began unseen`,
      );
      assert.equal(s.stats().lost, 0n);
      // the spins run across ticks: counts are also taken while a thread keeps running
      assert.ok(got.atTick > 0, "no record ended at a tick");
      if (got.unseen === 0) {
        assert.deepEqual({ faults: got.faults, switches: got.switches }, kernel);
        return;
      }
      assert.ok(got.faults <= kernel.faults && got.switches <= kernel.switches);
      assert.ok(attempt < 3, `${attempt} runs in a row had runs that began unseen`);
    }
  } finally {
    s.close();
  }
});
