/**
 * What the agent's probes check. Liveness: the drain loop still turns (a blocked loop cannot
 * answer at all, so the probe's own timeout covers that). Readiness: the programs are attached,
 * the writer has not failed lately, and pod metadata is synced or the fallbacks are active.
 */
import type { HealthCheck } from "../agent/metrics_source.ts";

/** How long after a write failure the agent reports itself not ready. */
export const WRITER_UNHEALTHY_MS = 60_000;

/** State the checks read (all cheap getters). */
export interface HealthState {
  /** performance.now() of the last drain. */
  lastDrainAt: () => number;
  /** Liveness fails when the last drain is older than this. */
  maxDrainAgeMs: number;
  /** The BPF programs are attached. */
  attached: () => boolean;
  /** performance.now() of the last write failure (-Infinity if none). */
  lastWriteFailureAt: () => number;
  /** NRI synchronized or the fallback scans done. */
  metadataReady: () => boolean;
  now?: () => number;
}

/** The liveness and readiness checks of `collect --listen`. */
export function agentHealthChecks(s: HealthState): {
  liveness: HealthCheck[];
  readiness: HealthCheck[];
} {
  const now = s.now ?? (() => performance.now());
  const drain: HealthCheck = {
    name: "drain",
    check: () => {
      const age = now() - s.lastDrainAt();
      return {
        ok: age < s.maxDrainAgeMs,
        detail: `last drain ${(age / 1000).toFixed(1)} s ago (limit ${s.maxDrainAgeMs / 1000} s)`,
      };
    },
  };
  return {
    liveness: [drain],
    readiness: [
      drain,
      { name: "sampler", check: () => ({ ok: s.attached(), detail: "BPF programs attached" }) },
      {
        name: "writer",
        check: () => {
          const since = now() - s.lastWriteFailureAt();
          return since < WRITER_UNHEALTHY_MS
            ? { ok: false, detail: `write failed ${(since / 1000).toFixed(0)} s ago` }
            : { ok: true };
        },
      },
      {
        name: "metadata",
        check: () =>
          s.metadataReady()
            ? { ok: true }
            : { ok: false, detail: "neither NRI synchronized nor a fallback scan done" },
      },
    ],
  };
}

/** Bytes of `*.parquet` files directly in `dir` (0 when it cannot be listed); async, off the loop. */
export async function outputBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".parquet")) continue;
      try {
        total += (await Deno.stat(`${dir}/${e.name}`)).size;
      } catch { /* removed meanwhile */ }
    }
  } catch {
    return 0;
  }
  return total;
}
