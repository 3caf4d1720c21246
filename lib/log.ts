/** Structured logging: one JSON object per line on stderr, filtered by level. */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = RANK.info;
const encoder = new TextEncoder();

/** Sets the lowest level that is written; throws on an unknown name. */
export function setLogLevel(level: string): void {
  if (!(level in RANK)) {
    throw new RangeError(`unknown log level "${level}" (use debug, info, warn or error)`);
  }
  threshold = RANK[level as LogLevel];
}

/** True when messages of `level` are currently written (to skip building costly fields). */
export function logEnabled(level: LogLevel): boolean {
  return RANK[level] >= threshold;
}

function write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (RANK[level] < threshold) return;
  const line = JSON.stringify(
    { ts: new Date().toISOString(), level, msg, ...fields },
    (_k, v) => typeof v === "bigint" ? v.toString() : v,
  );
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** How often one kind of repeated failure may be logged. */
export const THROTTLE_MS = 60_000;
// Kinds are a small fixed vocabulary in code (not user data), but stay bounded all the same.
const MAX_KINDS = 256;
const throttle = new Map<string, { last: number; suppressed: number }>();

/**
 * Logs at most one line per `kind` per minute; the next line written for that kind carries
 * `suppressed`, the count of lines held back since the previous one. For failures that repeat
 * on every loop turn (a full disk, a dead socket) so a week of them stays a few lines a minute.
 */
function throttled(
  kind: string,
  level: LogLevel,
  msg: string,
  fields?: Record<string, unknown>,
  now = performance.now(),
): void {
  const t = throttle.get(kind);
  if (t && now - t.last < THROTTLE_MS) {
    t.suppressed++;
    return;
  }
  if (!t && throttle.size >= MAX_KINDS) throttle.delete(throttle.keys().next().value!);
  write(
    level,
    msg,
    t?.suppressed ? { ...fields, kind, suppressed: t.suppressed } : { ...fields, kind },
  );
  throttle.set(kind, { last: now, suppressed: 0 });
}

/** The process-wide structured logger. */
export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
  throttled,
};
