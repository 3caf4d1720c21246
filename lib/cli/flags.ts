/** Checks of flag values shared by the commands; each failure is a UsageError naming the flag. */
import type { SummaryBy } from "../report/mod.ts";
import { COUNTER_NAMES } from "../sampler/mod.ts";
import { UsageError } from "./units.ts";

const BY: readonly SummaryBy[] = ["pod", "container", "process", "cgroup", "node"];

/** A whole number ≥ `min`. */
export function parseCount(flag: string, text: unknown, min: number): number {
  const n = Number(text);
  if (text === "" || typeof text === "boolean" || !Number.isInteger(n) || n < min) {
    throw new UsageError(flag, `--${flag}: "${text}" is not a whole number ≥ ${min}`);
  }
  return n;
}

/** A comma-separated list of known counter names; undefined when the flag is absent. */
export function parseCounters(text: unknown): string[] | undefined {
  if (text === undefined) return undefined;
  const names = String(text).split(",").map((s) => s.trim()).filter((s) => s);
  const unknown = names.filter((n) => !(COUNTER_NAMES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new UsageError(
      "counters",
      `--counters: unknown ${unknown.join(", ")} (known: ${COUNTER_NAMES.join(", ")})`,
    );
  }
  return names;
}

/** One of pod, container, process, cgroup, node. */
export function parseBy(text: unknown): SummaryBy {
  const s = String(text);
  if (!BY.includes(s as SummaryBy)) {
    // `summary --by out/x.parquet` took the file as the key: say what --by wants.
    throw new UsageError("by", `--by: "${s}" is not one of ${BY.join(", ")}`);
  }
  return s as SummaryBy;
}

/** An ISO 8601 wall-clock time as ns since the epoch; undefined when the flag is absent. */
export function parseWallTime(flag: string, text: unknown): bigint | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(String(text));
  if (Number.isNaN(ms)) {
    throw new UsageError(
      flag,
      `--${flag}: "${text}" is not a time (example: 2026-11-23T17:00:00Z)`,
    );
  }
  return BigInt(ms) * 1_000_000n;
}
