/** Rows and config shared by the output tests. */
import type { FileConfig, OutputRow } from "../../lib/output/schema.ts";

/** A config with an offset that makes ts land on a known wall time. */
export const CONFIG: FileConfig = {
  version: "0.1.0-test",
  node: "node-a",
  intervalNs: 1_000_000n,
  monoToWallOffsetNs: 1_700_000_000_123_456_789n,
  cpus: 2,
  counters: [
    { name: "cycles", source: "unavailable", detail: "no PMU" },
    { name: "page_faults", source: "software" },
  ],
};

/** A plain row; `i` varies the numbers so rows are distinguishable. */
export function row(i: number, extra: Partial<OutputRow> = {}): OutputRow {
  return {
    monoNs: 5_000_000_000n + BigInt(i) * 1_000_000n,
    tgid: 1000 + (i % 50),
    comm: `proc-${i % 7}`,
    cgroupId: 4026531835n + BigInt(i % 11),
    cpuNs: 1000 + i,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: i % 3,
    contextSwitches: i % 5,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1 + (i % 4),
    podName: i % 2 ? `pod-${i % 5}` : null,
    podNamespace: i % 2 ? "default" : null,
    podUid: i % 2 ? `uid-${i % 5}` : null,
    containerName: i % 2 ? "app" : null,
    containerId: i % 2 ? `cid-${i % 5}` : null,
    metaSource: i % 2 ? "nri" : null,
    ...extra,
  };
}
