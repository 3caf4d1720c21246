/** Typed errors of the Parquet output: each carries the file and what a user needs to act. */
import type { ClosedFileInfo } from "./parquet_writer.ts";

/** A file could not be written, synced or renamed (disk full, permission, I/O error). */
export class OutputWriteError extends Error {
  override name = "OutputWriteError";
  /** the failed file, finished with the row groups already on disk, or null when none were */
  completed: ClosedFileInfo | null = null;
  /**
   * @param path the file being written (the temporary name while it is incomplete)
   * @param code the OS error code (`ENOSPC`, `EACCES`, …) or `"UNKNOWN"`
   * @param rowsLost rows that were appended to the failed file and will never reach disk
   */
  constructor(
    readonly path: string,
    readonly code: string,
    readonly rowsLost: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The writer was given options it cannot honour (bad sizes, missing directory, …). */
export class OutputConfigError extends Error {
  override name = "OutputConfigError";
  constructor(readonly option: string, message: string) {
    super(message);
  }
}

/** The writer was used after close() or after a fatal failure. */
export class OutputClosedError extends Error {
  override name = "OutputClosedError";
  constructor(readonly path: string) {
    super(`parquet output ${path} is closed`);
  }
}

/** Builds an OutputWriteError from whatever an fs call threw, with a one-line message. */
export function writeErrorFrom(
  err: unknown,
  path: string,
  action: string,
  rowsLost: number,
): OutputWriteError {
  const code = (err as { code?: string })?.code ??
    (err instanceof Deno.errors.NotFound ? "ENOENT" : "UNKNOWN");
  const reason = code === "ENOSPC" ? "no space left on device" : (err as Error)?.message ?? err;
  return new OutputWriteError(
    path,
    code,
    rowsLost,
    `cannot ${action} ${path}: ${reason} (${rowsLost} rows lost)`,
    { cause: err },
  );
}
