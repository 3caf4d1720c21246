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

/** The process-wide structured logger. */
export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};
