/**
 * The join: closed slot rows meet pod metadata on their cgroup id. The resolver is asked once
 * per cgroup per slot (rows arrive in slot order, so a per-slot cache is enough), never per
 * record.
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
  #slot = -1n;
  #perSlot = new Map<bigint, PodMeta | null>();

  constructor(lookup: MetaLookup) {
    this.#lookup = lookup;
  }

  /** Returns the output rows of `rows`, in the same order. */
  join(rows: readonly SlotRow[]): OutputRow[] {
    const out = new Array<OutputRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row.monoNs !== this.#slot) {
        this.#slot = row.monoNs;
        this.#perSlot.clear();
      }
      let meta = this.#perSlot.get(row.cgroupId);
      if (meta === undefined) {
        meta = this.#lookup.resolve(row.cgroupId);
        this.#perSlot.set(row.cgroupId, meta);
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
    return out;
  }
}
