/** A logger for tests that records lines instead of writing them (and echoes errors). */
import type { Logger } from "../../lib/nri/logger.ts";
import { type LogLevel, throttledWriter } from "../../lib/log.ts";

/** One recorded log line. */
export interface Line {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** Returns a Logger and the lines it has recorded. */
export function recorder(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return {
    lines,
    log: {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      throttled: throttledWriter((level: LogLevel, msg, fields) => at(level)(msg, fields)),
    },
  };
}

/** Polls `cond` every 2 ms until true or `ms` elapsed; returns whether it became true. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}
