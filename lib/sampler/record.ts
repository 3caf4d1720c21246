/**
 * The TypeScript side of `struct podperf_record` (bpf/podperf.h): offsets, size, flag bits
 * and counter slots (from counter_table.ts). Hot paths read fields with DataView at these offsets.
 */

import { NR_COUNTERS } from "./counter_table.ts";
export { COUNTER_NAMES, type CounterName, NR_COUNTERS } from "./counter_table.ts";

/** Bytes per record. */
export const RECORD_SIZE = 80 + 8 * NR_COUNTERS;
/** Bytes of the NUL-padded name of the thread-group leader. */
export const COMM_LEN = 16;

/** Byte offsets of the record fields (little endian). */
export const OFF = {
  tsNs: 0,
  cgroupId: 8,
  cpuNs: 16,
  spanNs: 24,
  runqNs: 32,
  counters: 40,
  pid: 40 + 8 * NR_COUNTERS,
  tgid: 44 + 8 * NR_COUNTERS,
  cpu: 48 + 8 * NR_COUNTERS,
  flags: 52 + 8 * NR_COUNTERS,
  waits: 56 + 8 * NR_COUNTERS,
  runs: 60 + 8 * NR_COUNTERS,
  comm: 64 + 8 * NR_COUNTERS,
} as const;

/** Runs a CPU holds back to merge per slot (`PODPERF_PENDING`). */
export const PENDING = 8;

/**
 * `struct podperf_pending`, the first member of each CPU's state: what a CPU still holds back
 * when the sampler detaches is read from there.
 */
export const PENDING_OFF = { slot: 0, count: 8, records: 16 } as const;
/** Bytes of `struct podperf_pending`. */
export const PENDING_SIZE = 16 + PENDING * RECORD_SIZE;

/** `struct podperf_config`, written into the object's .rodata.cfg before load. */
export const CONFIG_OFF = {
  excludeTgid: 0,
  counterMask: 4,
  nrCpus: 8,
  wakeBytes: 12,
  intervalNs: 16,
  /** one byte per counter slot: the `PODPERF_TASK_*` count it reads, or 0 */
  taskCount: 24,
  /** benchmarks only: the tick and the switch return at once (bpf_stats' floor) */
  noop: 32,
  /** tests only: the switch ignores switches away from this process's threads */
  hideTgid: 36,
} as const;
/** Bytes of `struct podperf_config`. */
export const CONFIG_SIZE = 40;
/** Entries of `podperf_config.task_count`. */
export const CONFIG_TASK_COUNTS = 8;

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

/** flags bit: the record absorbed stretches whose records could not be reserved (ring full). */
export const FLAG_CARRIED = 1 << 17;

/**
 * flags bit: the sum of several runs that lay, with their waits, inside one slot; every value
 * belongs to the slot holding `ts − span`.
 */
export const FLAG_ONE_SLOT = 1 << 18;

/**
 * flags bit: no switch showed the run begin (the tracepoint missed it). cpu_ns is the
 * scheduler's for the run; its counters are unknown (never valid) and its wait is not counted.
 */
export const FLAG_UNSEEN = 1 << 19;

/** A record decoded into an object: for tests and debugging only, never on the hot path. */
export interface DecodedRecord {
  tsNs: bigint;
  cgroupId: bigint;
  cpuNs: bigint;
  /** ktime length the charge is placed over, ending at tsNs */
  spanNs: bigint;
  /** run-queue wait that ended where the span begins (the sum of `waits` waits) */
  runqNs: bigint;
  waits: number;
  /** runs summed in this record (more than one only with oneSlot) */
  runs: number;
  /** null where the valid bit is clear. */
  counters: (bigint | null)[];
  scaled: boolean[];
  pid: number;
  tgid: number;
  cpu: number;
  flags: number;
  atSwitch: boolean;
  carried: boolean;
  oneSlot: boolean;
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
    spanNs: view.getBigUint64(off + OFF.spanNs, true),
    runqNs: view.getBigUint64(off + OFF.runqNs, true),
    waits: view.getUint32(off + OFF.waits, true),
    runs: view.getUint32(off + OFF.runs, true),
    counters,
    scaled,
    pid: view.getUint32(off + OFF.pid, true),
    tgid: view.getUint32(off + OFF.tgid, true),
    cpu: view.getUint32(off + OFF.cpu, true),
    flags,
    atSwitch: (flags & FLAG_SWITCH) !== 0,
    carried: (flags & FLAG_CARRIED) !== 0,
    oneSlot: (flags & FLAG_ONE_SLOT) !== 0,
    comm: decoder.decode(nul < 0 ? comm : comm.subarray(0, nul)),
  };
}
