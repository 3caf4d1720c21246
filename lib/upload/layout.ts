/**
 * Object keys in the bucket, Hive-partitioned so engines prune by path:
 * `PREFIX/date=YYYY-MM-DD/hour=HH/node=NODE/<file name>`. The date and hour (UTC) are when the
 * file was opened (from its name), so a file lands in one partition whatever its upload time.
 */

// podperf-<node>-20261129T190000.123Z-0001.parquet (lib/output/rotation.ts fileName)
const STAMP = /-(\d{4})(\d{2})(\d{2})T(\d{2})\d{4}(?:\.\d+)?Z-\d+\.parquet$/;

/** UTC opening time from a podperf file name, or null when the name has none. */
export function openedAtFromName(name: string): { date: string; hour: string } | null {
  const m = STAMP.exec(name);
  return m ? { date: `${m[1]}-${m[2]}-${m[3]}`, hour: m[4] } : null;
}

/** A node name made safe for a path segment (Kubernetes names already are). */
export function partitionValue(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * The key of a local file in the bucket. `fallbackTime` (ms since the epoch, e.g. the file's
 * mtime) is used only for names without a timestamp.
 */
export function objectKey(
  prefix: string,
  node: string,
  fileName: string,
  fallbackTime: number,
): string {
  const at = openedAtFromName(fileName) ?? (() => {
    const iso = new Date(fallbackTime).toISOString();
    return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
  })();
  const path = `date=${at.date}/hour=${at.hour}/node=${partitionValue(node)}/${fileName}`;
  return prefix ? `${prefix}/${path}` : path;
}
