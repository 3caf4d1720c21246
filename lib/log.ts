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

/** A throttled log function (see `log.throttled`). */
export type ThrottledLog = (
  kind: string,
  level: LogLevel,
  msg: string,
  fields?: Record<string, unknown>,
  now?: number,
) => void;

/**
 * Builds a `throttled` over any line writer: at most one line per `kind` per minute; the next
 * line written for that kind carries `suppressed`, the count of lines held back since the
 * previous one. Exported so test loggers throttle exactly as the real one does.
 */
export function throttledWriter(
  out: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void,
): ThrottledLog {
  const seen = new Map<string, { last: number; suppressed: number }>();
  return (kind, level, msg, fields, now = performance.now()) => {
    const t = seen.get(kind);
    if (t && now - t.last < THROTTLE_MS) {
      t.suppressed++;
      return;
    }
    if (!t && seen.size >= MAX_KINDS) seen.delete(seen.keys().next().value!);
    out(
      level,
      msg,
      t?.suppressed ? { ...fields, kind, suppressed: t.suppressed } : { ...fields, kind },
    );
    seen.set(kind, { last: now, suppressed: 0 });
  };
}

/**
 * Logs at most one line per `kind` per minute, with a `suppressed` count. For failures that
 * repeat on every loop turn (a full disk, a dead socket) so a week of them stays a few lines.
 */
const throttled: ThrottledLog = throttledWriter(write);

/** The process-wide structured logger. */
export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
  throttled,
};
