/**
 * Aggregator throughput on a synthetic record stream: per CPU a 1 ms tick plus context
 * switches between ~200 processes in ~40 cgroups, drained and advanced every 100 ms.
 * Run: node_modules/deno/deno run -A bench/aggregate_bench.ts
 */
import { SlotAggregator } from "../lib/aggregate/mod.ts";
import { NR_COUNTERS, OFF, RECORD_SIZE as RECORD } from "../lib/sampler/record.ts";

const MS = 1_000_000;
const CHUNK_MS = 100; // one drain

export interface Case {
  name: string;
  cpus: number;
  procs: number;
  /** mean context switches per ms per CPU (each one is a record besides the tick) */
  switchesPerMs: number;
  seconds: number;
}

/** A deterministic generator of ring-buffer-ordered records, 100 ms per chunk. */
export class Stream {
  #seed = 1;
  #now: number[];
  #running: number[];
  #buf: ArrayBuffer;
  readonly view: DataView;

  constructor(readonly c: Case, start: number) {
    this.#now = new Array(c.cpus).fill(start);
    this.#running = Array.from({ length: c.cpus }, (_, i) => i % c.procs);
    // generous upper bound for one chunk
    const perChunk = c.cpus * CHUNK_MS * (2 + c.switchesPerMs * 3);
    this.#buf = new ArrayBuffer(perChunk * RECORD);
    this.view = new DataView(this.#buf);
  }

  #rand(): number {
    this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
    return this.#seed / 4294967296;
  }

  /** A skewed choice: a few hot processes do most of the running, like a real node. */
  #pick(): number {
    const r = this.#rand();
    return Math.floor(r * r * this.c.procs);
  }

  /** Fills the buffer with the next 100 ms; returns the record count. */
  fill(): number {
    const v = this.view;
    let n = 0;
    const write = (cpu: number, end: number, len: number, sw: boolean) => {
      const p = this.#running[cpu];
      const off = n++ * RECORD;
      v.setBigUint64(off + OFF.tsNs, BigInt(end), true);
      v.setBigUint64(off + OFF.cgroupId, BigInt(1000 + (p % 40)), true);
      v.setBigUint64(off + OFF.cpuNs, BigInt(len), true);
      v.setBigUint64(off + OFF.spanNs, BigInt(len), true);
      // a switch record starts a run: it carries the wait before it
      v.setBigUint64(off + OFF.runqNs, BigInt(sw ? len >> 2 : 0), true);
      for (let i = 0; i < NR_COUNTERS; i++) v.setBigUint64(off + OFF.counters + 8 * i, 0n, true);
      v.setBigUint64(off + OFF.counters + 24, BigInt(this.#rand() < 0.1 ? 1 : 0), true);
      v.setBigUint64(off + OFF.counters + 32, sw ? 1n : 0n, true);
      v.setUint32(off + OFF.pid, 10_000 + p * 4, true);
      v.setUint32(off + OFF.tgid, 10_000 + p, true);
      v.setUint32(off + OFF.cpu, cpu, true);
      v.setUint32(off + OFF.flags, 0x18 | (sw ? 1 << 16 : 0), true);
      v.setUint32(off + OFF.waits, sw ? 1 : 0, true);
      v.setUint32(off + OFF.runs, 1, true);
      for (let i = 0; i < 16; i += 4) v.setUint32(off + OFF.comm + i, 0, true);
      v.setUint32(off + OFF.comm, 0x636f7270, true); // "proc"
      v.setUint32(off + OFF.comm + 4, p, true);
    };
    for (let ms = 0; ms < CHUNK_MS; ms++) {
      for (let cpu = 0; cpu < this.c.cpus; cpu++) {
        const tickAt = this.#now[cpu] - (this.#now[cpu] % MS) + MS + 137_000;
        let t = this.#now[cpu];
        // switches before the next tick, at random points
        const k = Math.floor(this.#rand() * 2 * this.c.switchesPerMs + 0.5);
        for (let s = 0; s < k; s++) {
          const at = t + Math.floor(this.#rand() * (tickAt - t) / 2);
          if (at <= t) continue;
          write(cpu, at, at - t, true);
          t = at;
          this.#running[cpu] = this.#pick();
        }
        write(cpu, tickAt, tickAt - t, false);
        this.#now[cpu] = tickAt;
      }
    }
    return n;
  }

  /** The latest time any CPU reached. */
  get now(): number {
    return Math.max(...this.#now);
  }
}

function runCase(c: Case): Record<string, unknown> {
  const start = 3_600_000 * MS; // an hour of uptime
  const stream = new Stream(c, start);
  let rows = 0;
  const agg = new SlotAggregator({
    intervalNs: MS,
    cpus: c.cpus,
    onRows: (r) => rows += r.length,
  });
  let records = 0;
  let addMs = 0;
  let advanceMs = 0;
  const chunks = Math.round(c.seconds * 1000 / CHUNK_MS);
  for (let ch = 0; ch < chunks; ch++) {
    const n = stream.fill();
    const view = stream.view;
    const t0 = performance.now();
    for (let i = 0, off = 0; i < n; i++, off += RECORD) agg.add(view, off);
    const t1 = performance.now();
    agg.advance(BigInt(stream.now));
    advanceMs += performance.now() - t1;
    addMs += t1 - t0;
    records += n;
  }
  agg.flush();
  const totalMs = addMs + advanceMs;
  return {
    case: c.name,
    records,
    rows,
    "add Mrec/s": +(records / addMs / 1000).toFixed(2),
    "add+advance Mrec/s": +(records / totalMs / 1000).toFixed(2),
    "ns/record": +(totalMs * 1e6 / records).toFixed(1),
    "late": agg.stats().lateRecords,
  };
}

/** Runs the aggregator benchmark cases and returns one result row per case. */
export function benchAggregate(): Promise<Record<string, unknown>[]> {
  const cases: Case[] = [
    { name: "2 cpus, 200 procs, 2 sw/ms", cpus: 2, procs: 200, switchesPerMs: 2, seconds: 300 },
    { name: "2 cpus, 200 procs, 10 sw/ms", cpus: 2, procs: 200, switchesPerMs: 10, seconds: 100 },
    { name: "16 cpus, 2000 procs, 4 sw/ms", cpus: 16, procs: 2000, switchesPerMs: 4, seconds: 30 },
  ];
  runCase({ ...cases[0], seconds: 5 }); // warm up the JIT
  return Promise.resolve(cases.map(runCase));
}

if (import.meta.main) {
  console.table(await benchAggregate());
}
