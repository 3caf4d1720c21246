/** Podperf files written by the real writer for the upload and reading tests. */
import { type ClosedFileInfo, RotatingParquetWriter } from "../../lib/output/mod.ts";
import type { FileConfig, OutputRow } from "../../lib/output/schema.ts";

/** Options of writeNodeFiles(). */
export interface NodeFilesOptions {
  node: string;
  files: number;
  rowsPerFile: number;
  rowGroupRows?: number;
  /** CLOCK_REALTIME − CLOCK_MONOTONIC of the writing run */
  offsetNs?: bigint;
  /** monotonic time of the first row */
  startMonoNs?: bigint;
  /** slot length (default 1 ms) */
  intervalNs?: bigint;
  /** processes (default 40), spread over 6 pods */
  processes?: number;
}

/** Row `i` of a node: processes cycle over pods; counters are present. */
export function fleetRow(i: number, monoNs: bigint, processes = 40): OutputRow {
  const p = i % processes;
  const pod = p % 6;
  return {
    monoNs,
    tgid: 100 + p,
    comm: `proc-${p}`,
    cgroupId: 5000n + BigInt(pod),
    cpuNs: 10_000 + (i % 997),
    cycles: 30_000 + (i % 101),
    instructions: 50_000 + (i % 89),
    llcMisses: i % 13,
    pageFaults: i % 3,
    contextSwitches: i % 5,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
    podName: pod === 5 ? null : `pod-${pod}`,
    podNamespace: pod === 5 ? null : "team",
    podUid: pod === 5 ? null : `uid-${pod}`,
    containerName: pod === 5 ? null : "app",
    containerId: pod === 5 ? null : `cid-${pod}`,
    metaSource: pod === 5 ? null : "nri",
  };
}

/**
 * Writes `files` complete files of a node into dir with the real RotatingParquetWriter (one
 * writer per file, so each is complete); rows advance one slot per `processes` rows.
 */
export async function writeNodeFiles(dir: string, o: NodeFilesOptions): Promise<ClosedFileInfo[]> {
  const interval = o.intervalNs ?? 1_000_000n;
  const processes = o.processes ?? 40;
  const config: FileConfig = {
    version: "0.1.0-test",
    node: o.node,
    intervalNs: interval,
    monoToWallOffsetNs: o.offsetNs ?? 1_764_400_000_000_000_000n,
    cpus: 4,
    counters: [
      { name: "cycles", source: "hardware" },
      { name: "instructions", source: "hardware" },
      { name: "llc_misses", source: "hardware" },
    ],
  };
  const closed: ClosedFileInfo[] = [];
  let i = 0;
  const start = o.startMonoNs ?? 1_000_000_000_000n;
  for (let f = 0; f < o.files; f++) {
    const w = new RotatingParquetWriter({
      dir,
      prefix: `podperf-${o.node}`,
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      rowGroupRows: o.rowGroupRows ?? 1000,
      metadata: config,
      onFileClosed: (info) => closed.push(info),
    });
    const rows: OutputRow[] = [];
    for (let r = 0; r < o.rowsPerFile; r++, i++) {
      rows.push(fleetRow(i, start + BigInt(Math.floor(i / processes)) * interval, processes));
      if (rows.length === 4096) w.appendMany(rows.splice(0));
    }
    w.appendMany(rows);
    await w.close();
    // file names carry the opening time to the ms: keep them distinct
    await new Promise((r) => setTimeout(r, 3));
  }
  return closed;
}
