/**
 * A real Prometheus (Debian's `prometheus` 2.42 package, installed by
 * scripts/install_prometheus.sh) started by a test on 127.0.0.1 with its own config and data
 * directory, and `promtool`. Nothing of the package's own service is used.
 */

const PROMETHEUS = "/usr/bin/prometheus";
const PROMTOOL = "/usr/bin/promtool";

/** Prometheus or promtool is not installed. */
export class PrometheusMissingError extends Error {
  override name = "PrometheusMissingError";
  constructor(readonly path: string) {
    super(`${path} not found: run bash scripts/install_prometheus.sh (Debian package prometheus)`);
  }
}

function need(path: string): void {
  try {
    Deno.statSync(path);
  } catch {
    throw new PrometheusMissingError(path);
  }
}

/** Runs promtool with `args`, `stdin` fed in; returns its exit code and combined output. */
export async function promtool(
  args: string[],
  stdin = "",
): Promise<{ code: number; output: string }> {
  need(PROMTOOL);
  const child = new Deno.Command(PROMTOOL, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** A port nobody listens on right now (the kernel's pick). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** One sample of an instant vector. */
export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

/** The Prometheus HTTP API answered with an error. */
export class PrometheusQueryError extends Error {
  override name = "PrometheusQueryError";
  constructor(readonly query: string, readonly detail: string) {
    super(`query ${query}: ${detail}`);
  }
}

/** A running Prometheus scraping one target every `scrapeIntervalS` seconds. */
export class PrometheusServer {
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly base: string;

  private constructor(child: Deno.ChildProcess, dir: string, port: number) {
    this.#child = child;
    this.#dir = dir;
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Starts Prometheus scraping `target` (HOST:PORT) and waits until it is ready. */
  static async start(target: string, scrapeIntervalS = 1): Promise<PrometheusServer> {
    need(PROMETHEUS);
    const dir = await Deno.makeTempDir({ prefix: "podperf-prom-" });
    const config = `global:
  scrape_interval: ${scrapeIntervalS}s
  evaluation_interval: ${scrapeIntervalS}s
scrape_configs:
  - job_name: podperf
    honor_labels: true
    static_configs:
      - targets: ["${target}"]
`;
    await Deno.writeTextFile(`${dir}/prometheus.yml`, config);
    const check = await promtool(["check", "config", `${dir}/prometheus.yml`]);
    if (check.code !== 0) throw new Error(`promtool check config: ${check.output}`);
    const port = freePort();
    const child = new Deno.Command(PROMETHEUS, {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const server = new PrometheusServer(child, dir, port);
    const deadline = Date.now() + 60_000;
    while (true) {
      try {
        const r = await fetch(`${server.base}/-/ready`);
        await r.body?.cancel();
        if (r.ok) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`prometheus did not become ready: ${await stderr}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #api(path: string, params: Record<string, string>, what: string): Promise<unknown> {
    const r = await fetch(`${this.base}${path}?${new URLSearchParams(params)}`);
    const body = await r.json() as { status: string; data: unknown; error?: string };
    if (body.status !== "success") {
      throw new PrometheusQueryError(what, body.error ?? `${r.status}`);
    }
    return body.data;
  }

  /**
   * Evaluates `query` at `timeSec` (Unix seconds; default now); throws PrometheusQueryError on
   * a parse or evaluation error.
   */
  async query(query: string, timeSec?: number): Promise<VectorSample[]> {
    const params: Record<string, string> = { query };
    if (timeSec !== undefined) params.time = String(timeSec);
    const data = await this.#api("/api/v1/query", params, query) as {
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
    if (data.resultType !== "vector") {
      throw new PrometheusQueryError(query, `result type ${data.resultType}, not vector`);
    }
    return data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  /** Evaluates a range-vector `query` at `timeSec`: each series with its raw samples. */
  async queryMatrix(
    query: string,
    timeSec: number,
  ): Promise<{ metric: Record<string, string>; samples: [number, number][] }[]> {
    const data = await this.#api("/api/v1/query", { query, time: String(timeSec) }, query) as {
      resultType: string;
      result: { metric: Record<string, string>; values: [number, string][] }[];
    };
    if (data.resultType !== "matrix") {
      throw new PrometheusQueryError(query, `result type ${data.resultType}, not matrix`);
    }
    return data.result.map((s) => ({
      metric: s.metric,
      samples: s.values.map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
  }

  /** Values of `label` on series matching `selector` (what Grafana's label_values asks). */
  async labelValues(label: string, selector: string): Promise<string[]> {
    return await this.#api(
      `/api/v1/label/${label}/values`,
      { "match[]": selector },
      selector,
    ) as string[];
  }

  /** The scrape target's health as Prometheus sees it ("up", "down", "unknown"). */
  async targetHealth(): Promise<{ health: string; lastError: string }> {
    const r = await fetch(`${this.base}/api/v1/targets`);
    const body = await r.json() as {
      data: { activeTargets: { health: string; lastError: string }[] };
    };
    return body.data.activeTargets[0] ?? { health: "none", lastError: "no target" };
  }

  /** Stops Prometheus and removes its data directory. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
