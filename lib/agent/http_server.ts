/**
 * The agent's HTTP listener (`collect --listen ADDR`): `/healthz` (liveness), `/readyz`
 * (readiness) and `/metrics` (Prometheus text). Handlers only read state other components keep
 * up to date, so a probe never waits on the drain loop's work or on disk.
 */
import type { HealthCheck, MetricsSource } from "./metrics_source.ts";

/** A `--listen` value that is not HOST:PORT. */
export class ListenAddressError extends Error {
  override name = "ListenAddressError";
  constructor(readonly address: string) {
    super(`--listen: "${address}" is not HOST:PORT, :PORT or [IPv6]:PORT`);
  }
}

/** Parses `HOST:PORT`, `:PORT` (all interfaces) or `[IPv6]:PORT`. */
export function parseListenAddress(address: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ListenAddressError(address);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** What the listener serves. */
export interface AgentHttpOptions {
  /** `HOST:PORT`; port 0 picks a free port (see `AgentHttpServer.port`). */
  address: string;
  /** All must pass for `/healthz` to answer 200. */
  liveness: readonly HealthCheck[];
  /** All must pass for `/readyz` to answer 200. */
  readiness: readonly HealthCheck[];
  /** Concatenated, in order, into `/metrics`. */
  metrics: readonly MetricsSource[];
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const PROM = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };

function probe(checks: readonly HealthCheck[]): Response {
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    let r: { ok: boolean; detail?: string };
    try {
      r = c.check();
    } catch (e) {
      r = { ok: false, detail: (e as Error).message };
    }
    ok &&= r.ok;
    lines.push(`${r.ok ? "ok" : "fail"} ${c.name}${r.detail ? `: ${r.detail}` : ""}`);
  }
  return new Response(lines.join("\n") + "\n", { status: ok ? 200 : 503, headers: TEXT });
}

/** The running listener. */
export class AgentHttpServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #opts: AgentHttpOptions;

  /** Binds the address at once, so a taken port fails `collect` at start. */
  constructor(opts: AgentHttpOptions) {
    this.#opts = opts;
    const { hostname, port } = parseListenAddress(opts.address);
    this.#server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.#server.addr.port;
  }

  #handle(req: Request): Response {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: TEXT });
    }
    switch (new URL(req.url).pathname) {
      case "/healthz":
        return probe(this.#opts.liveness);
      case "/readyz":
        return probe(this.#opts.readiness);
      case "/metrics": {
        const parts: string[] = [];
        for (const s of this.#opts.metrics) {
          try {
            parts.push(s.renderMetrics());
          } catch (e) {
            // One failing source must not hide the others; its failure is itself visible.
            parts.push(`# source error: ${(e as Error).message.replaceAll("\n", " ")}\n`);
          }
        }
        return new Response(parts.join(""), { headers: PROM });
      }
      default:
        return new Response("not found: try /healthz, /readyz or /metrics\n", {
          status: 404,
          headers: TEXT,
        });
    }
  }

  /** Stops listening and waits for in-flight requests. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
