/**
 * The TypeScript side of `struct podperf_record` (bpf/podperf.h): offsets, size, flag bits
 * and counter names. Hot paths read fields with DataView at these offsets.
 */

/** Bytes per record. */
export const RECORD_SIZE = 96;
/** Number of counter slots in a record. */
export const NR_COUNTERS = 5;
/** Bytes of the NUL-padded thread name. */
export const COMM_LEN = 16;

/** Byte offsets of the record fields (little endian). */
export const OFF = {
  tsNs: 0,
  cgroupId: 8,
  cpuNs: 16,
  counters: 24,
  pid: 64,
  tgid: 68,
  cpu: 72,
  flags: 76,
  comm: 80,
} as const;

/** Counter names in slot order; they match the Parquet column names. */
export const COUNTER_NAMES = [
  "cycles",
  "instructions",
  "llc_misses",
  "page_faults",
  "context_switches",
] as const;

/** One of the counter names. */
export type CounterName = typeof COUNTER_NAMES[number];

/** flags bit: counter `i` holds a valid delta. */
export function flagValid(i: number): number {
  return 1 << i;
}

/** flags bit: counter `i` was scaled for multiplexing. */
export function flagScaled(i: number): number {
  return 1 << (8 + i);
}

/** flags bit: the stretch ended at a context switch (else at a tick). */
export const FLAG_SWITCH = 1 << 16;

/** A record decoded into an object: for tests and debugging only, never on the hot path. */
export interface DecodedRecord {
  tsNs: bigint;
  cgroupId: bigint;
  cpuNs: bigint;
  /** null where the valid bit is clear. */
  counters: (bigint | null)[];
  scaled: boolean[];
  pid: number;
  tgid: number;
  cpu: number;
  flags: number;
  atSwitch: boolean;
  comm: string;
}

const decoder = new TextDecoder();

/** Decodes the record at `off` in `view` (tests and debugging only). */
export function decodeRecord(view: DataView, off: number): DecodedRecord {
  const flags = view.getUint32(off + OFF.flags, true);
  const counters: (bigint | null)[] = [];
  const scaled: boolean[] = [];
  for (let i = 0; i < NR_COUNTERS; i++) {
    counters.push(
      flags & flagValid(i) ? view.getBigUint64(off + OFF.counters + 8 * i, true) : null,
    );
    scaled.push((flags & flagScaled(i)) !== 0);
  }
  const comm = new Uint8Array(view.buffer, view.byteOffset + off + OFF.comm, COMM_LEN);
  const nul = comm.indexOf(0);
  return {
    tsNs: view.getBigUint64(off + OFF.tsNs, true),
    cgroupId: view.getBigUint64(off + OFF.cgroupId, true),
    cpuNs: view.getBigUint64(off + OFF.cpuNs, true),
    counters,
    scaled,
    pid: view.getUint32(off + OFF.pid, true),
    tgid: view.getUint32(off + OFF.tgid, true),
    cpu: view.getUint32(off + OFF.cpu, true),
    flags,
    atSwitch: (flags & FLAG_SWITCH) !== 0,
    comm: decoder.decode(nul < 0 ? comm : comm.subarray(0, nul)),
  };
}
