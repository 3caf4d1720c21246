/**
 * `podperf pods`: what podperf would resolve right now, cgroup by cgroup, and from which source:
 * the runtime over NRI first, then (as `collect` does) the containers' OCI bundles and the cgroup
 * paths, including host services named by their systemd unit. `--watch` then streams changes,
 * as `kubectl get -w` does.
 */
import { startNriPlugin } from "./client.ts";
import type { Logger } from "./logger.ts";
import { log as defaultLog } from "../log.ts";
import { MetadataStore } from "../metadata/store.ts";
import type { MetadataEntry, PodMeta } from "../metadata/store.ts";
import { CgroupPathIndex } from "../metadata/cgroup_path.ts";
import { containerdTaskDir, OciBundleWatcher } from "../metadata/oci_watcher.ts";
import { MetadataResolver } from "../metadata/resolver.ts";

/** Options of runPodsCommand. */
export interface PodsCommandOptions {
  /** The runtime's NRI socket; null skips NRI (fallbacks only). Default /var/run/nri/nri.sock. */
  socketPath?: string | null;
  /** One JSON document (with --watch: one JSON object per change) instead of a table. */
  json?: boolean;
  /** Give up waiting for the runtime after this long (default 10 s). */
  timeoutMs?: number;
  /** Also resolve through OCI bundles and cgroup paths, as collect does (default true). */
  fallbacks?: boolean;
  /** containerd state dirs whose bundles the OCI fallback reads (default /run/containerd). */
  containerdStateDirs?: string[];
  /** Keep running and print each change (until `signal` aborts). */
  watch?: boolean;
  /** How often --watch re-reads the cgroup tree, ms (default 1000). */
  watchIntervalMs?: number;
  /** Ends --watch. */
  signal?: AbortSignal;
  /** Where output lines go (default stdout). */
  write?: (line: string) => void;
  /** Where the --watch warning goes when NRI does not answer (default: stderr, one line). */
  warn?: (line: string) => void;
}

/** One cgroup podperf can name, and the source that names it. */
export interface PodsEntry extends PodMeta {
  /** cgroup2 inode; null while NRI knows a container whose cgroup was not found yet */
  cgroupId: bigint | null;
  /** path relative to the cgroup2 mount, when the cgroup tree has it */
  cgroupPath: string | null;
}

/** No runtime answered on the NRI socket in time; says where, how long and the likely cause. */
export class NriUnavailableError extends Error {
  override name = "NriUnavailableError";
  constructor(readonly socketPath: string, readonly waitedMs: number, readonly reason: string) {
    super(
      `no runtime answered on the NRI socket ${socketPath} within ${formatMs(waitedMs)} ` +
        `(${reason}): is NRI enabled in containerd? ` +
        `([plugins."io.containerd.nri.v1.nri"] disable = false; on by default in containerd 2.x)`,
    );
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function socketState(path: string, sessions: number): string {
  if (sessions > 0) return "it connected but never sent its containers";
  try {
    return Deno.statSync(path).isSocket ? "nothing accepts connections on it" : "not a socket";
  } catch {
    return "the socket does not exist";
  }
}

const COLUMNS = ["CGROUP_ID", "NAMESPACE", "POD", "CONTAINER", "ID", "SOURCE", "CGROUP"];
const SOURCE_ORDER: Record<string, number> = { "nri": 0, "oci": 1, "cgroup-path": 2 };

function cells(e: PodsEntry): string[] {
  return [
    e.cgroupId === null ? "-" : e.cgroupId.toString(),
    e.podNamespace ?? "-",
    e.podName ?? (e.podUid !== null ? `(uid ${e.podUid})` : "-"),
    e.containerName ?? "-",
    (e.containerId ?? "-").slice(0, 13),
    e.source,
    e.cgroupPath ?? "-",
  ];
}

/** Formats entries as aligned text lines: the header, then one line per entry. */
export function formatPods(entries: readonly PodsEntry[], event?: readonly string[]): string[] {
  const rows = [event ? ["EVENT", ...COLUMNS] : COLUMNS];
  entries.forEach((e, i) => rows.push(event ? [event[i], ...cells(e)] : cells(e)));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  // room for every event name, so later --watch lines stay aligned
  if (event) widths[0] = Math.max(widths[0], "MODIFIED".length);
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

/** An entry in the CLI's JSON convention (snake_case, u64 as a decimal string). */
export function podsEntryJson(e: PodsEntry): Record<string, unknown> {
  return {
    cgroup_id: e.cgroupId === null ? null : e.cgroupId.toString(),
    cgroup_path: e.cgroupPath,
    pod_namespace: e.podNamespace,
    pod_name: e.podName,
    pod_uid: e.podUid,
    container_name: e.containerName,
    container_id: e.containerId,
    image: e.image,
    source: e.source,
  };
}

function fromStore(e: MetadataEntry, path: string | null): PodsEntry {
  return {
    cgroupId: e.cgroupId,
    cgroupPath: path,
    podName: e.podName,
    podNamespace: e.podNamespace,
    podUid: e.podUid,
    containerName: e.containerName,
    containerId: e.containerId,
    image: e.image,
    source: "nri",
  };
}

function compare(a: PodsEntry, b: PodsEntry): number {
  const ka = [a.podNamespace === null ? 1 : 0, a.podNamespace ?? "", a.podName ?? a.podUid ?? ""];
  const kb = [b.podNamespace === null ? 1 : 0, b.podNamespace ?? "", b.podName ?? b.podUid ?? ""];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  const s = SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source];
  if (s !== 0) return s;
  const ca = a.containerName ?? "", cb = b.containerName ?? "";
  return ca < cb ? -1 : ca > cb ? 1 : (a.cgroupPath ?? "") < (b.cgroupPath ?? "") ? -1 : 1;
}

/** The identity of an entry across snapshots (a container keeps it when NRI takes over). */
function keyOf(e: PodsEntry): string {
  return e.containerId ?? `cgroup:${e.cgroupId}`;
}

/** Everything the sources can name now: NRI's live containers, then the fallbacks' cgroups. */
function snapshot(
  store: MetadataStore,
  paths: CgroupPathIndex | null,
  resolver: MetadataResolver | null,
): PodsEntry[] {
  const out: PodsEntry[] = [];
  const named = new Set<bigint>();
  for (const e of store.entries()) {
    if (e.removedAt !== null) continue;
    if (e.cgroupId !== null) named.add(e.cgroupId);
    out.push(fromStore(e, e.cgroupId === null ? null : paths?.pathOf(e.cgroupId) ?? null));
  }
  if (paths !== null && resolver !== null) {
    for (const [id, path] of paths.entries()) {
      if (named.has(id)) continue;
      const meta = resolver.resolve(id);
      // A pod's own cgroup (no container) holds no process: collect never charges rows to it.
      if (meta === null || (meta.containerId === null && meta.containerName === null)) continue;
      out.push({ ...meta, cgroupId: id, cgroupPath: path });
    }
  }
  return out.sort(compare);
}

function sameEntry(a: PodsEntry, b: PodsEntry): boolean {
  return a.cgroupId === b.cgroupId && a.source === b.source && a.podName === b.podName &&
    a.podNamespace === b.podNamespace && a.podUid === b.podUid &&
    a.containerName === b.containerName && a.cgroupPath === b.cgroupPath;
}

// The NRI client's own "retrying" warnings would repeat what the command says in one line.
const QUIET: Logger = { ...defaultLog, warn: () => {}, info: () => {} };

/**
 * Runs the command; resolves to the exit code. Without an NRI answer it still prints what the
 * fallbacks resolve, then throws NriUnavailableError (with --watch: warns once and goes on).
 */
export async function runPodsCommand(opts: PodsCommandOptions = {}): Promise<number> {
  const write = opts.write ?? ((l: string) => console.log(l));
  const warn = opts.warn ?? ((l: string) => console.error(l));
  const socketPath = opts.socketPath === undefined ? "/var/run/nri/nri.sock" : opts.socketPath;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const store = new MetadataStore();
  const nri = socketPath === null
    ? null
    : startNriPlugin({ socketPath, store, pluginName: "podperf-pods", log: QUIET });
  let oci: OciBundleWatcher | null = null;
  let paths: CgroupPathIndex | null = null;
  let resolver: MetadataResolver | null = null;
  try {
    if (opts.fallbacks ?? true) {
      oci = new OciBundleWatcher({
        containerdTaskDirs: (opts.containerdStateDirs ?? ["/run/containerd"]).map(
          containerdTaskDir,
        ),
        watch: opts.watch ?? false,
      });
      try {
        paths = new CgroupPathIndex({ minRewalkMs: Infinity });
        await paths.refresh();
      } catch { /* no cgroup2: NRI and bundles only */ }
      resolver = new MetadataResolver({ oci, paths });
    }
    // The bundles present now are read before the first snapshot, as collect waits for them:
    // without NRI a snapshot taken before that named the pods by cgroup path alone (a race the
    // pods test lost once in CI).
    const bundlesRead = oci?.ready;
    let unavailable: NriUnavailableError | null = null;
    if (nri !== null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
      const ok = !(await Promise.race([nri.synchronized.then(() => false), timedOut]));
      clearTimeout(timer);
      if (!ok) {
        unavailable = new NriUnavailableError(
          socketPath!,
          timeoutMs,
          socketState(socketPath!, nri.stats.sessions),
        );
      } else if (paths !== null) await paths.refresh(); // cgroups NRI just told us about
    }
    await bundlesRead;
    let entries = snapshot(store, paths, resolver);
    if (!opts.watch) {
      if (opts.json) {
        write(JSON.stringify(
          {
            nri: socketPath === null ? null : {
              socket: socketPath,
              connected: unavailable === null,
              error: unavailable?.message ?? null,
            },
            fallbacks: opts.fallbacks ?? true,
            entries: entries.map(podsEntryJson),
          },
          null,
          2,
        ));
      } else if (entries.length > 0 || unavailable === null) {
        for (const l of formatPods(entries)) write(l);
      }
      if (unavailable) throw unavailable;
      return 0;
    }
    if (unavailable) warn(`podperf: warning: ${unavailable.message}; watching the fallbacks`);
    return await watch(entries, () => (entries = snapshot(store, paths, resolver)), {
      ...opts,
      write,
      store,
      paths,
    });
  } finally {
    resolver?.close();
    await oci?.close();
    await paths?.pending;
    await nri?.close();
  }
}

interface WatchContext extends PodsCommandOptions {
  write: (line: string) => void;
  store: MetadataStore;
  paths: CgroupPathIndex | null;
}

/** Prints the first snapshot, then one line per added, modified or deleted entry. */
async function watch(
  first: PodsEntry[],
  next: () => PodsEntry[],
  ctx: WatchContext,
): Promise<number> {
  const { write } = ctx;
  let widths: number[] = [];
  const emit = (event: string, batch: PodsEntry[]) => {
    if (batch.length === 0) return;
    if (ctx.json) {
      for (const e of batch) {
        write(JSON.stringify({ event: event.toLowerCase(), ...podsEntryJson(e) }));
      }
      return;
    }
    for (const e of batch) {
      const row = [event, ...cells(e)];
      write(row.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd());
    }
  };
  if (!ctx.json) {
    // The first table sets the column widths; later lines keep them (wider cells push right).
    const table = formatPods(first, first.map(() => "ADDED"));
    const header = table[0];
    widths = [...header.matchAll(/\S+\s*/g)].map((m) => m[0].length - 2);
    widths[widths.length - 1] = 0;
    for (const l of table) write(l);
  } else emit("ADDED", first);

  let known = new Map(first.map((e) => [keyOf(e), e]));
  const diff = () => {
    const now = next();
    const seen = new Map(now.map((e) => [keyOf(e), e]));
    const added: PodsEntry[] = [], modified: PodsEntry[] = [], deleted: PodsEntry[] = [];
    for (const [k, e] of seen) {
      const old = known.get(k);
      if (old === undefined) added.push(e);
      else if (!sameEntry(old, e)) modified.push(e);
    }
    for (const [k, e] of known) if (!seen.has(k)) deleted.push(e);
    known = seen;
    emit("DELETED", deleted);
    emit("ADDED", added);
    emit("MODIFIED", modified);
  };

  const signal = ctx.signal ?? new AbortController().signal;
  let pendingDiff: ReturnType<typeof setTimeout> | undefined;
  // A change from the runtime shows within a few ms; the cgroup tree is re-read each interval.
  const stop = ctx.store.subscribe(() => {
    pendingDiff ??= setTimeout(() => {
      pendingDiff = undefined;
      diff();
    }, 20);
  });
  try {
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, ctx.watchIntervalMs ?? 1000);
        signal.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          resolve();
        }
      });
      if (signal.aborted) break;
      await ctx.paths?.refresh();
      diff();
    }
  } finally {
    stop();
    clearTimeout(pendingDiff);
  }
  return 0;
}
