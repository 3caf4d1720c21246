/** Parsing of the CLI's durations ("1ms", "10s", "5m") and sizes ("256MiB", "1G"). */

/** A flag value the CLI cannot use; the message names the flag and an example. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(readonly flag: string, message: string) {
    super(message);
  }
}

const DURATION_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Parses "1ms", "2.5s", "10m" into ns; a bare number is seconds. */
export function parseDurationNs(flag: string, text: string | number): bigint {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?\s*$/.exec(String(text));
  if (!m) {
    throw new UsageError(flag, `--${flag}: "${text}" is not a duration (examples: 1ms, 10s, 5m)`);
  }
  const unit = DURATION_NS[m[2] ?? "s"];
  const [int, frac = ""] = m[1].split(".");
  const scale = 10n ** BigInt(frac.length);
  return (BigInt(int) * scale + BigInt(frac || "0")) * unit / scale;
}

const SIZE: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** Parses "256MiB", "1G", "4096" into bytes. */
export function parseBytes(flag: string, text: string | number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(text));
  const mult = m ? SIZE[m[2].toLowerCase()] : undefined;
  if (!m || mult === undefined) {
    throw new UsageError(flag, `--${flag}: "${text}" is not a size (examples: 64MiB, 1G)`);
  }
  return Math.round(Number(m[1]) * mult);
}
