/** Builds sampler records (lib/sampler/record.ts layout) in an ArrayBuffer for tests. */
import { NR_COUNTERS, OFF, RECORD_SIZE } from "../../lib/sampler/record.ts";

/** Fields of one record; omitted counters are 0 with their valid bit clear. */
export interface RecordFields {
  ts: bigint;
  cpuNs: bigint | number;
  /** ktime length the charge is placed over (default: cpuNs) */
  spanNs?: bigint | number;
  /** run-queue wait ending where the span begins (default 0) */
  runqNs?: bigint | number;
  tgid: number;
  pid?: number;
  cpu?: number;
  cgroupId?: bigint;
  /** up to NR_COUNTERS counter values; flags decide validity */
  counters?: readonly number[];
  flags?: number;
  /** waits summed in runqNs (default 0) */
  waits?: number;
  /** runs summed (default 1) */
  runs?: number;
  comm?: string | Uint8Array;
}

/** Appends records to a growing buffer; `view` and `count` describe what was written. */
export class RecordBuilder {
  #buf = new ArrayBuffer(RECORD_SIZE * 64);
  view = new DataView(this.#buf);
  count = 0;

  /** Writes one record and returns its byte offset. */
  push(r: RecordFields): number {
    if ((this.count + 1) * RECORD_SIZE > this.#buf.byteLength) {
      const next = new ArrayBuffer(this.#buf.byteLength * 2);
      new Uint8Array(next).set(new Uint8Array(this.#buf));
      this.#buf = next;
      this.view = new DataView(next);
    }
    const off = this.count++ * RECORD_SIZE;
    const v = this.view;
    v.setBigUint64(off + OFF.tsNs, r.ts, true);
    v.setBigUint64(off + OFF.cgroupId, r.cgroupId ?? 1n, true);
    v.setBigUint64(off + OFF.cpuNs, BigInt(r.cpuNs), true);
    v.setBigUint64(off + OFF.spanNs, BigInt(r.spanNs ?? r.cpuNs), true);
    v.setBigUint64(off + OFF.runqNs, BigInt(r.runqNs ?? 0), true);
    const counters = r.counters ?? [];
    for (let i = 0; i < NR_COUNTERS; i++) {
      v.setBigUint64(off + OFF.counters + 8 * i, BigInt(counters[i] ?? 0), true);
    }
    v.setUint32(off + OFF.pid, r.pid ?? r.tgid, true);
    v.setUint32(off + OFF.tgid, r.tgid, true);
    v.setUint32(off + OFF.cpu, r.cpu ?? 0, true);
    v.setUint32(off + OFF.flags, r.flags ?? 0, true);
    v.setUint32(off + OFF.waits, r.waits ?? 0, true);
    v.setUint32(off + OFF.runs, r.runs ?? 1, true);
    const comm = typeof r.comm === "string" ? new TextEncoder().encode(r.comm) : r.comm;
    new Uint8Array(this.#buf, off + OFF.comm, 16).set((comm ?? new Uint8Array()).subarray(0, 16));
    return off;
  }

  /** Byte offsets of every record written, in order. */
  offsets(): number[] {
    return Array.from({ length: this.count }, (_, i) => i * RECORD_SIZE);
  }
}
