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
import { SocketWatch } from "./socket_watch.ts";

/** Default NRI socket of containerd and CRI-O. */
export const DEFAULT_NRI_SOCKET = "/var/run/nri/nri.sock";
/**
 * Longest reconnect delay while the socket's directory is watched (lib/nri/socket_watch.ts):
 * the watch wakes the wait when the runtime binds its socket, so polling is only a safety net.
 */
export const WATCHED_MAX_BACKOFF_MS = 60_000;

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
  /**
   * First reconnect delay in ms (default 100), doubled up to `maxBackoffMs` (default 5000), or
   * up to WATCHED_MAX_BACKOFF_MS while a watch on the socket's directory wakes the wait.
   */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often removed entries past their grace are swept, ms (default: half the grace, 1–5 s). */
  sweepIntervalMs?: number;
  /** Bound on a received mux frame payload (default 16 MiB). */
  maxFrame?: number;
  /** Deadline for the socket to connect and RegisterPlugin to be answered, ms (default 5000). */
  registerTimeoutMs?: number;
  /**
   * Deadline, from connecting, for the runtime's Configure and whole Synchronize to arrive, ms
   * (default 15 000: containerd itself gives a plugin 5 s to register and sends both at once).
   */
  syncTimeoutMs?: number;
}

/** Where the plugin is in its life with the runtime. */
export type NriState = "connecting" | "registered" | "synced" | "backoff" | "closed";

/** The plugin's counters, for the stats line and /metrics. */
export interface NriStats {
  /** Socket sessions opened. */
  sessions: number;
  /** Synchronizations applied. */
  syncs: number;
  /** Sessions ended by bytes breaking the protocol. */
  protocolErrors: number;
  /** Sessions dropped because a start-up step missed its deadline. */
  deadlineMisses: number;
  /** Times a session ended and another was started. */
  reconnects: number;
  state: NriState;
  /** The last failure (connect error, protocol error, missed deadline), null if none yet. */
  lastError: string | null;
  /** Store updates waiting behind a Synchronize being applied. */
  pendingUpdates: number;
}

/** A running plugin. */
export interface NriPluginHandle {
  /** True while a socket session is open. */
  readonly connected: boolean;
  /** Resolves once the first Synchronize has been applied to the store. */
  readonly synchronized: Promise<void>;
  /** Resolves at the next Synchronize applied after this call (e.g. after a reconnect). */
  nextSync(): Promise<void>;
  /** Counters and state (a live object: read it, do not keep a copy). */
  readonly stats: NriStats;
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
  const registerTimeout = opts.registerTimeoutMs ?? 5000;
  const syncTimeout = opts.syncTimeoutMs ?? 15_000;

  let closed = false;
  let session: NriSession | null = null;
  let wake: (() => void) | null = null;
  let delayTimer: ReturnType<typeof setTimeout> | undefined;
  const counts = {
    sessions: 0,
    syncs: 0,
    protocolErrors: 0,
    deadlineMisses: 0,
    reconnects: 0,
    state: "connecting" as NriState,
    lastError: null as string | null,
  };
  const stats: NriStats = Object.defineProperty(counts, "pendingUpdates", {
    get: () => plugin.pendingJobs,
    enumerable: true,
  }) as NriStats;
  // The start-up step the current session waits for, and its deadline timer.
  let step: "RegisterPlugin" | "Synchronize" | null = null;
  let stepTimer: ReturnType<typeof setTimeout> | undefined;
  let missed: string | null = null;
  let syncWaiters: (() => void)[] = [];
  let resolveFirst!: () => void;
  const synchronized = new Promise<void>((r) => (resolveFirst = r));
  let syncedThisSession = false;

  const plugin = new NriPlugin({
    store,
    resolver: opts.resolver ?? new CgroupResolver(),
    log,
    onRequest: (method) => {
      // The whole Synchronize is in: what is left is our own work, not the runtime's.
      if (method === "Synchronize" && step === "Synchronize") disarm();
    },
    onSynchronized: (s) => {
      stats.syncs++;
      // The apply runs after the reply: the session may have ended meanwhile.
      if (session !== null) stats.state = "synced";
      syncedThisSession = true;
      log.info("NRI synchronized", { ...s, entries: store.size });
      resolveFirst();
      const w = syncWaiters;
      syncWaiters = [];
      for (const fn of w) fn();
    },
  });

  // Removed containers outlive their grace period by at most half of it (5 s by default). A
  // sweep is a wake-up of the whole runtime, which is most of what an idle agent costs, so the
  // timer runs only while removed entries wait for theirs to end.
  const sweepEvery = opts.sweepIntervalMs ??
    Math.min(5000, Math.max(1000, store.gracePeriodMs / 2));
  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  const unsubscribe = store.subscribe((c) => {
    if (c.kind !== "removed" || sweepTimer !== undefined || closed) return;
    sweepTimer = setInterval(() => {
      store.sweep();
      if (store.removing > 0) return;
      clearInterval(sweepTimer);
      sweepTimer = undefined;
    }, sweepEvery);
  });

  // A change seen while no sleep was under way (a connect in flight) must not be lost.
  let changed = false;
  const watch = new SocketWatch(socketPath, () => {
    changed = true;
    wake?.();
  });
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (changed) return resolve();
      wake = resolve;
      delayTimer = setTimeout(resolve, ms);
    }).finally(() => {
      wake = null;
      changed = false;
      clearTimeout(delayTimer);
    });

  function disarm(): void {
    clearTimeout(stepTimer);
    stepTimer = undefined;
    step = null;
  }

  /** Gives the runtime until `at` (performance.now ms) to finish `next`, else drops the session. */
  function arm(next: "RegisterPlugin" | "Synchronize", at: number, s: NriSession): void {
    clearTimeout(stepTimer);
    step = next;
    stepTimer = setTimeout(() => {
      if (step !== next || closed) return;
      const limit = next === "RegisterPlugin" ? registerTimeout : syncTimeout;
      missed = `${next} not completed by the runtime within ${limit} ms`;
      stats.deadlineMisses++;
      stats.lastError = missed;
      // A silent or trickling runtime would otherwise leave every row unnamed, unseen.
      log.throttled("nri-deadline", "warn", "NRI runtime missed a deadline; reconnecting", {
        socket: socketPath,
        step: next,
        limitMs: limit,
        deadlineMisses: stats.deadlineMisses,
      });
      s.close();
    }, Math.max(0, at - performance.now()));
  }

  async function loop(): Promise<void> {
    let backoff = minBackoff;
    let lastConnectError = "";
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await connectWithin(socketPath, registerTimeout);
      } catch (e) {
        const msg = `${(e as Error).name}: ${(e as Error).message}`;
        stats.lastError = msg;
        stats.state = "backoff";
        // close() may have run while connect was pending, before there was a sleep to wake.
        if (closed) break;
        const watched = watch.arm();
        // Log once per kind of failure; a node without NRI would otherwise log every 5 s.
        if (msg !== lastConnectError) {
          log.warn("NRI socket not reachable; retrying", {
            socket: socketPath,
            error: msg,
            watching: watch.dir,
          });
          lastConnectError = msg;
        }
        await sleep(backoff);
        stats.state = "connecting";
        const ceiling = watched ? Math.max(maxBackoff, WATCHED_MAX_BACKOFF_MS) : maxBackoff;
        backoff = Math.min(backoff * 2, ceiling);
        continue;
      }
      if (closed) {
        conn.close();
        break;
      }
      lastConnectError = "";
      watch.close();
      changed = false;
      if (stats.sessions > 0) stats.reconnects++;
      stats.sessions++;
      stats.state = "connecting";
      const prevHealthy = syncedThisSession;
      syncedThisSession = false;
      missed = null;
      plugin.resetSession();
      session = new NriSession(conn, plugin.handle, { maxFrame: opts.maxFrame });
      const s = session;
      const connectedAt = performance.now();
      // Quiet after a failed session: a runtime that keeps failing is reported by the
      // throttled deadline line, not by a connect line every few seconds.
      (stats.reconnects === 0 || prevHealthy ? log.info : log.debug)(
        "NRI connected",
        { socket: socketPath, plugin: `${index}-${name}` },
      );
      arm("RegisterPlugin", connectedAt + registerTimeout, s);
      s.call(RUNTIME_SERVICE, "RegisterPlugin", registerPluginPayload(name, index)).then(
        () => {
          log.debug("NRI plugin registered", { plugin: `${index}-${name}` });
          if (session !== s) return;
          stats.state = "registered";
          // Configure may already have come (it can race the register reply); Synchronize not.
          if (step === "RegisterPlugin") arm("Synchronize", connectedAt + syncTimeout, s);
        },
        (e) => {
          if (e instanceof NriRpcError) {
            // The runtime leaves the socket open after a refusal; close it and try again later.
            stats.lastError = e.message;
            log.throttled("nri-refused", "error", "NRI runtime refused registration", {
              code: e.code,
              error: e.statusMessage,
            });
            s.close();
          }
        },
      );
      const end = await s.run();
      disarm();
      session = null;
      if (closed) break;
      stats.state = "backoff";
      if (missed !== null) {
        // Already said by the deadline line.
      } else if (end.error) {
        stats.protocolErrors++;
        stats.lastError = end.error.message;
        // Throttled per message: the same broken reply every backoff is one line a minute,
        // a different one is still seen at once.
        log.throttled(
          `nri-session:${end.error.message}`,
          "error",
          "NRI session failed; reconnecting",
          {
            error: end.error.message,
            errorKind: end.error.name,
          },
        );
      } else {
        stats.lastError = "connection closed by the runtime";
        log.throttled("nri-closed", "warn", "NRI connection closed by the runtime; reconnecting", {
          socket: socketPath,
        });
      }
      // A session that got as far as a sync was healthy: start the backoff from the bottom.
      if (syncedThisSession) backoff = minBackoff;
      await sleep(backoff);
      stats.state = "connecting";
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
      stats.state = "closed";
      disarm();
      unsubscribe();
      clearInterval(sweepTimer);
      watch.close();
      plugin.close();
      session?.close();
      wake?.();
      await done;
    },
  };
}

/** Connects, or throws once `ms` have passed (a listener whose backlog is full never accepts). */
function connectWithin(path: string, ms: number): Promise<Deno.Conn> {
  const pending = Deno.connect({ transport: "unix", path });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Whenever it does connect, nobody wants it any more.
      pending.then((c) => c.close(), () => {});
      reject(new Deno.errors.TimedOut(`connect not completed within ${ms} ms`));
    }, ms);
  });
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}
