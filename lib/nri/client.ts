/**
 * The long-lived NRI client: connects to the runtime's socket, registers, serves the plugin
 * until the socket goes, and reconnects with backoff, forever, until closed.
 */
import { log as defaultLog } from "../log.ts";
import type { Logger } from "./logger.ts";
import { NriPlugin, registerPluginPayload, RUNTIME_SERVICE } from "./plugin.ts";
import { NriSession } from "./session.ts";
import { NriRpcError } from "./errors.ts";
import { MetadataStore } from "../metadata/store.ts";
import { CgroupResolver } from "../metadata/cgroup_dir.ts";

/** Default NRI socket of containerd and CRI-O. */
export const DEFAULT_NRI_SOCKET = "/var/run/nri/nri.sock";

/** Options of startNriPlugin. */
export interface NriPluginStartOptions {
  /** Where the runtime listens (default /var/run/nri/nri.sock). */
  socketPath?: string;
  /** The store to keep exact. */
  store: MetadataStore;
  /** Plugin name (default "podperf"). */
  pluginName?: string;
  /** Two-digit plugin index; orders plugins in the runtime (default "10"). */
  pluginIndex?: string;
  /** cgroup resolver (default: detected cgroup2 mount). */
  resolver?: CgroupResolver;
  /** Logger (default lib/log). */
  log?: Logger;
  /** First reconnect delay in ms (default 100), doubled up to `maxBackoffMs` (default 5000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often removed entries past their grace are swept, ms (default 1000). */
  sweepIntervalMs?: number;
  /** Bound on a received mux frame payload (default 16 MiB). */
  maxFrame?: number;
}

/** A running plugin. */
export interface NriPluginHandle {
  /** True while a socket session is open. */
  readonly connected: boolean;
  /** Resolves once the first Synchronize has been applied to the store. */
  readonly synchronized: Promise<void>;
  /** Resolves at the next Synchronize applied after this call (e.g. after a reconnect). */
  nextSync(): Promise<void>;
  /** Counters: sessions opened, synchronizations, protocol errors. */
  readonly stats: { sessions: number; syncs: number; protocolErrors: number };
  /** Stops reconnecting, closes the socket and all timers. */
  close(): Promise<void>;
}

/**
 * Starts the NRI plugin; it runs in the background until `close()`.
 * @example
 * const store = new MetadataStore();
 * const nri = startNriPlugin({ store, socketPath: "/var/run/nri/nri.sock" });
 * await nri.synchronized;
 * store.lookup(cgroupId);
 */
export function startNriPlugin(opts: NriPluginStartOptions): NriPluginHandle {
  const socketPath = opts.socketPath ?? DEFAULT_NRI_SOCKET;
  const name = opts.pluginName ?? "podperf";
  const index = opts.pluginIndex ?? "10";
  if (!/^[0-9]{2}$/.test(index)) {
    throw new RangeError(`NRI plugin index must be two digits, got "${index}"`);
  }
  if (!/^[A-Za-z0-9._+-]+$/.test(name)) {
    throw new RangeError(`NRI plugin name must match [A-Za-z0-9._+-]+, got "${name}"`);
  }
  const log = opts.log ?? defaultLog;
  const store = opts.store;
  const minBackoff = opts.minBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 5000;

  let closed = false;
  let session: NriSession | null = null;
  let wake: (() => void) | null = null;
  let delayTimer: ReturnType<typeof setTimeout> | undefined;
  const stats = { sessions: 0, syncs: 0, protocolErrors: 0 };
  let syncWaiters: (() => void)[] = [];
  let resolveFirst!: () => void;
  const synchronized = new Promise<void>((r) => (resolveFirst = r));
  let syncedThisSession = false;

  const plugin = new NriPlugin({
    store,
    resolver: opts.resolver ?? new CgroupResolver(),
    log,
    onSynchronized: (s) => {
      stats.syncs++;
      syncedThisSession = true;
      log.info("NRI synchronized", { ...s, entries: store.size });
      resolveFirst();
      const w = syncWaiters;
      syncWaiters = [];
      for (const fn of w) fn();
    },
  });

  const sweepTimer = setInterval(() => store.sweep(), opts.sweepIntervalMs ?? 1000);

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      delayTimer = setTimeout(resolve, ms);
    }).finally(() => {
      wake = null;
      clearTimeout(delayTimer);
    });

  async function loop(): Promise<void> {
    let backoff = minBackoff;
    let lastConnectError = "";
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ transport: "unix", path: socketPath });
      } catch (e) {
        const msg = `${(e as Error).name}: ${(e as Error).message}`;
        // Log once per kind of failure; a node without NRI would otherwise log every 5 s.
        if (msg !== lastConnectError) {
          log.warn("NRI socket not reachable; retrying", { socket: socketPath, error: msg });
          lastConnectError = msg;
        }
        // close() may have run while connect was pending, before there was a sleep to wake.
        if (closed) break;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
        continue;
      }
      if (closed) {
        conn.close();
        break;
      }
      lastConnectError = "";
      stats.sessions++;
      syncedThisSession = false;
      plugin.resetSession();
      session = new NriSession(conn, plugin.handle, { maxFrame: opts.maxFrame });
      const s = session;
      log.info("NRI connected", { socket: socketPath, plugin: `${index}-${name}` });
      s.call(RUNTIME_SERVICE, "RegisterPlugin", registerPluginPayload(name, index)).then(
        () => log.debug("NRI plugin registered", { plugin: `${index}-${name}` }),
        (e) => {
          if (e instanceof NriRpcError) {
            // The runtime leaves the socket open after a refusal; close it and try again later.
            log.error("NRI runtime refused registration", { code: e.code, error: e.statusMessage });
            s.close();
          }
        },
      );
      const end = await s.run();
      session = null;
      if (closed) break;
      if (end.error) {
        stats.protocolErrors++;
        log.error("NRI session failed; reconnecting", {
          error: end.error.message,
          kind: end.error.name,
        });
      } else {
        log.warn("NRI connection closed by the runtime; reconnecting", { socket: socketPath });
      }
      // A session that got as far as a sync was healthy: start the backoff from the bottom.
      if (syncedThisSession) backoff = minBackoff;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  const done = loop().catch((e) => log.error("NRI plugin loop died", { error: String(e) }));

  return {
    get connected() {
      return session !== null;
    },
    synchronized,
    nextSync: () => new Promise<void>((r) => syncWaiters.push(r)),
    stats,
    async close() {
      if (closed) return done;
      closed = true;
      clearInterval(sweepTimer);
      plugin.close();
      session?.close();
      wake?.();
      await done;
    },
  };
}
