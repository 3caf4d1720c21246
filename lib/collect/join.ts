/**
 * The join: closed slot rows meet pod metadata on their cgroup id. The resolver is asked once
 * per cgroup per join() call, never per row or per slot: a call's rows are joined at one moment,
 * so asking again for a later slot of the same call could not get another answer, and a drain
 * hands over hundreds of 1 ms slots at once.
 */
import type { SlotRow } from "../aggregate/mod.ts";
import { isHostUnitMeta, type PodMeta } from "../metadata/mod.ts";
import { type OutputRow, outputRow } from "../output/mod.ts";

/** Anything that maps a cgroup id to pod metadata (the MetadataResolver). */
export interface MetaLookup {
  resolve(cgroupId: bigint): PodMeta | null;
}

/** CPU time (and cycles where counted) of rows with and without pod metadata. */
export interface JoinCoverage {
  knownCpuNs: number;
  unknownCpuNs: number;
  knownCycles: number;
  unknownCycles: number;
}

/** Joins slot rows with metadata and keeps run-wide coverage totals. */
export class SlotJoiner {
  readonly coverage: JoinCoverage = {
    knownCpuNs: 0,
    unknownCpuNs: 0,
    knownCycles: 0,
    unknownCycles: 0,
  };
  #lookup: MetaLookup;
  #perCall = new Map<bigint, PodMeta | null>();

  constructor(lookup: MetaLookup) {
    this.#lookup = lookup;
  }

  /** Returns the output rows of `rows`, in the same order. */
  join(rows: readonly SlotRow[]): OutputRow[] {
    const out = new Array<OutputRow>(rows.length);
    const perCall = this.#perCall; // empty between calls: it holds no metadata for long
    try {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        let meta = perCall.get(row.cgroupId);
        if (meta === undefined) {
          meta = this.#lookup.resolve(row.cgroupId);
          perCall.set(row.cgroupId, meta);
        }
        // Any source counts as attributed: even a cgroup-path answer names the pod (by uid);
        // a host service named by its unit is not a pod.
        if (meta && !isHostUnitMeta(meta)) {
          this.coverage.knownCpuNs += row.cpuNs;
          this.coverage.knownCycles += row.cycles ?? 0;
        } else {
          this.coverage.unknownCpuNs += row.cpuNs;
          this.coverage.unknownCycles += row.cycles ?? 0;
        }
        out[i] = outputRow(row, meta);
      }
    } finally {
      perCall.clear();
    }
    return out;
  }
}
