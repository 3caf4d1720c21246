/** JSON output of report rows: bigints as strings, so u64 ids survive any JSON reader. */

/** A JSON.stringify replacer writing bigints as decimal strings. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Rows as one pretty JSON array (for `--json`). */
export function formatJson(rows: readonly unknown[]): string {
  return JSON.stringify(rows, bigintReplacer, 2) + "\n";
}

/** Rows as JSON Lines: one compact object per line. */
export function formatJsonLines(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r, bigintReplacer) + "\n").join("");
}
