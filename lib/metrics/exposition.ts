/**
 * Prometheus text exposition (format 0.0.4, which Prometheus 2.x and OpenMetrics parsers both
 * read): label escaping, sample values and the `# HELP`/`# TYPE` header of a family.
 */

/** Escapes a label value: backslash, double quote and line feed, as the format requires. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v)
    ? v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")
    : v;
}

/** `{a="x",b="y"}` from pairs in the given order; "" for no labels. */
export function labelSet(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/** A sample value: integers exactly, others in the shortest round-tripping form. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The `# HELP` and `# TYPE` lines of a family (HELP text escaped as the format requires). */
export function familyHeader(name: string, type: "counter" | "gauge", help: string): string {
  const h = help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `# HELP ${name} ${h}\n# TYPE ${name} ${type}\n`;
}
