import assert from "@podperf/assert";
import { StartupGate } from "../../lib/collect/startup_gate.ts";
import type { SlotRow } from "../../lib/aggregate/mod.ts";

function rows(n: number, slot: bigint): SlotRow[] {
  return Array.from({ length: n }, (_, i) => ({
    monoNs: slot,
    tgid: i + 1,
    comm: "x",
    cgroupId: 1n,
    cpuNs: 1,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: null,
    contextSwitches: null,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
  }));
}

function gate(opts: { waitMs?: number; maxRows?: number } = {}) {
  let t = 0;
  const out: { slot: bigint; n: number; early: boolean }[] = [];
  const g = new StartupGate({
    ...opts,
    now: () => t,
    emit: (r, early) => out.push({ slot: r[0].monoNs, n: r.length, early }),
  });
  return { g, out, advance: (ms: number) => (t += ms) };
}

Deno.test("rows wait for metadata, then go on in order, joined late", () => {
  const { g, out } = gate();
  g.push(rows(3, 1n));
  g.push(rows(2, 2n));
  assert.equal(out.length, 0);
  assert.equal(g.heldRows, 5);
  g.ready();
  g.push(rows(1, 3n));
  assert.deepEqual(out, [
    { slot: 1n, n: 3, early: false },
    { slot: 2n, n: 2, early: false },
    { slot: 3n, n: 1, early: false },
  ]);
  assert.equal(g.timedOut, false);
});

Deno.test("past the wait the held rows go on marked early", () => {
  const { g, out, advance } = gate({ waitMs: 2000 });
  g.push(rows(3, 1n));
  advance(1999);
  g.check();
  assert.equal(out.length, 0);
  advance(1);
  g.check();
  assert.deepEqual(out, [{ slot: 1n, n: 3, early: true }]);
  assert.equal(g.timedOut, true);
  g.ready(); // late metadata changes nothing any more
  assert.equal(out.length, 1);
});

Deno.test("the held rows are bounded: reaching the bound releases them", () => {
  const { g, out } = gate({ maxRows: 10 });
  g.push(rows(6, 1n));
  assert.equal(out.length, 0);
  g.push(rows(6, 2n));
  assert.equal(g.heldRows, 0);
  assert.deepEqual(out.map((o) => o.early), [true, true]);
  g.push(rows(1, 3n));
  assert.deepEqual(out[2], { slot: 3n, n: 1, early: false });
});
