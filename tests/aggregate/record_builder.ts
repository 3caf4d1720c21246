/** Builds sampler records (docs/DESIGN.md layout) in an ArrayBuffer for tests and benches. */

/** Size of one record in bytes. */
export const RECORD_SIZE = 96;

/** Fields of one record; omitted counters are 0 with their valid bit clear. */
export interface RecordFields {
  ts: bigint;
  cpuNs: bigint | number;
  tgid: number;
  pid?: number;
  cpu?: number;
  cgroupId?: bigint;
  /** up to 5 counter values; flags decide validity */
  counters?: readonly number[];
  flags?: number;
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
    v.setBigUint64(off, r.ts, true);
    v.setBigUint64(off + 8, r.cgroupId ?? 1n, true);
    v.setBigUint64(off + 16, BigInt(r.cpuNs), true);
    const counters = r.counters ?? [];
    for (let i = 0; i < 5; i++) v.setBigUint64(off + 24 + 8 * i, BigInt(counters[i] ?? 0), true);
    v.setUint32(off + 64, r.pid ?? r.tgid, true);
    v.setUint32(off + 68, r.tgid, true);
    v.setUint32(off + 72, r.cpu ?? 0, true);
    v.setUint32(off + 76, r.flags ?? 0, true);
    const comm = typeof r.comm === "string" ? new TextEncoder().encode(r.comm) : r.comm;
    new Uint8Array(this.#buf, off + 80, 16).set((comm ?? new Uint8Array()).subarray(0, 16));
    return off;
  }

  /** Byte offsets of every record written, in order. */
  offsets(): number[] {
    return Array.from({ length: this.count }, (_, i) => i * RECORD_SIZE);
  }
}
