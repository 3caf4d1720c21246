/** `podperf pods`: registers with the runtime once, prints the live cgroup → pod map, exits. */
import { startNriPlugin } from "./client.ts";
import { MetadataStore } from "../metadata/store.ts";
import type { MetadataEntry } from "../metadata/store.ts";

/** Options of runPodsCommand. */
export interface PodsCommandOptions {
  socketPath?: string;
  /** One JSON object per line instead of a table. */
  json?: boolean;
  /** Give up waiting for the runtime after this long (default 10 s). */
  timeoutMs?: number;
  /** Where lines go (default stdout). */
  write?: (line: string) => void;
}

/** Formats entries as aligned text lines: cgroup id, namespace, pod, container, id. */
export function formatPods(entries: MetadataEntry[]): string[] {
  const rows = [["CGROUP_ID", "NAMESPACE", "POD", "CONTAINER", "ID"]];
  for (const e of entries) {
    rows.push([
      e.cgroupId === null ? "-" : e.cgroupId.toString(),
      e.podNamespace ?? "-",
      e.podName ?? "-",
      e.containerName ?? "-",
      (e.containerId ?? "-").slice(0, 13),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

/** Runs the command; resolves to the process exit code (1 when the runtime did not answer). */
export async function runPodsCommand(opts: PodsCommandOptions = {}): Promise<number> {
  const write = opts.write ?? ((l: string) => console.log(l));
  const store = new MetadataStore();
  const nri = startNriPlugin({ socketPath: opts.socketPath, store, pluginName: "podperf-pods" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((
    r,
  ) => (timer = setTimeout(() => r(true), opts.timeoutMs ?? 10_000)));
  const ok = !(await Promise.race([nri.synchronized.then(() => false), timedOut]));
  clearTimeout(timer);
  await nri.close();
  if (!ok) return 1;
  const entries = store.entries();
  if (opts.json) {
    for (const e of entries) {
      write(JSON.stringify(e, (_k, v) => typeof v === "bigint" ? v.toString() : v));
    }
  } else for (const l of formatPods(entries)) write(l);
  return 0;
}
