/** Runs the real entry point (`deno run -A main.ts …`) as a child process, as a user would. */

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** How a podperf run ended. */
export interface PodperfRun {
  /** the child's pid (the deno process running main.ts) */
  pid: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `podperf ARGS` to completion; `wrapper` (e.g. `["unshare", "--pid", "--fork"]`) runs it
 * under another program, as a pod's runtime would.
 */
export async function podperf(
  args: string[],
  env: Record<string, string> = {},
  wrapper: string[] = [],
): Promise<PodperfRun> {
  const [program, ...argv] = [...wrapper, Deno.execPath(), "run", "-A", `${ROOT}main.ts`, ...args];
  const child = new Deno.Command(program, {
    args: argv,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    pid: child.pid,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * A one-second `collect` (no NRI, no summary) into a fresh directory under `wrapper`: how it
 * ended and what it wrote there (the directory is removed).
 */
export async function collectBriefly(
  wrapper: string[],
): Promise<PodperfRun & { written: string[] }> {
  const out = await Deno.makeTempDir({ prefix: "podperf-brief-" });
  try {
    const run = await podperf(
      ["collect", "--duration", "1s", "--no-nri", "--no-summary", "--output", out],
      {},
      wrapper,
    );
    return { ...run, written: [...Deno.readDirSync(out)].map((e) => e.name) };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** A podperf child left running (for --watch); read its stdout line by line. */
export class PodperfChild {
  readonly #child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: Promise<string>;
  /** Every stdout line read so far. */
  readonly seen: string[] = [];

  constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#lines = lines(this.#child.stdout)[Symbol.asyncIterator]();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** Reads lines until one satisfies `match`; throws after `timeoutMs` with what was seen. */
  async waitFor(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        this.#lines.next(),
        new Promise<null>((r) => (timer = setTimeout(() => r(null), deadline - Date.now()))),
      ]);
      clearTimeout(timer);
      if (next === null) break;
      if (next.done) throw new Error(`podperf ended; stdout:\n${this.seen.join("\n")}`);
      this.seen.push(next.value);
      if (match(next.value)) return next.value;
    }
    throw new Error(`no matching line in ${timeoutMs} ms; stdout:\n${this.seen.join("\n")}`);
  }

  /** Sends SIGINT and waits for the exit. */
  async stop(): Promise<{ code: number; stderr: string }> {
    try {
      this.#child.kill("SIGINT");
    } catch { /* already gone */ }
    const status = await this.#child.status;
    // drain what is left so the stream closes
    for (;;) {
      const n = await this.#lines.next();
      if (n.done) break;
      this.seen.push(n.value);
    }
    return { code: status.code, stderr: await this.#stderr };
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) yield pending;
}
