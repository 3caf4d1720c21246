/** The logger shape the NRI layer writes to (lib/log by default; tests pass a recorder). */
import type { log } from "../log.ts";

/** A structured logger with lib/log's methods. */
export type Logger = typeof log;
