/**
 * `podperf collect` run the way a user runs it: `deno run -A --v8-flags=… main.ts collect …` (the
 * agent's V8 flags, as `deno task collect` and the compiled binary pass them) as a child
 * process, its JSON log lines on stderr read as they arrive (each stamped with the test's wall
 * clock on arrival) and its stdout kept for the summary.
 */
import { V8_FLAGS } from "../../lib/cli/v8_flags.ts";
import { GLIBC_TUNABLES } from "../../lib/malloc.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/deno/deno`;

/** One stderr line of the child: parsed JSON when it is JSON, else only `raw`. */
export interface LogLine {
  /** Wall clock (Date.now()) when the test read the line. */
  receivedMs: number;
  raw: string;
  level?: string;
  msg?: string;
  fields: Record<string, unknown>;
}

/** The child did not log what the test waited for in time. */
export class LogWaitTimeoutError extends Error {
  /** Carries what was awaited and every line logged so far. */
  constructor(readonly awaited: string, readonly lines: string[]) {
    super(`podperf never logged "${awaited}"; its stderr so far:\n${lines.join("\n")}`);
    this.name = "LogWaitTimeoutError";
  }
}

/** How the child ended. */
export interface PodperfExit {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  lines: LogLine[];
}

/** A running `podperf collect` child. */
export class PodperfProcess {
  /** Every stderr line so far, in arrival order. */
  readonly lines: LogLine[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stderrDone: Promise<void>;
  readonly #stdout: Promise<string>;
  #waiters: (() => void)[] = [];
  #exit: Promise<PodperfExit> | null = null;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdout = new Response(child.stdout).text();
    this.#stderrDone = this.#readStderr(child.stderr);
  }

  /**
   * Starts `podperf collect <args>` (cwd = the repository root) with the malloc tunables of
   * the launch paths (lib/malloc.ts), and `env` added.
   */
  static collect(args: string[], env?: Record<string, string>): PodperfProcess {
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", `--v8-flags=${V8_FLAGS}`, `${ROOT}main.ts`, "collect", ...args],
      cwd: ROOT,
      env: { GLIBC_TUNABLES, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new PodperfProcess(child);
  }

  /** The child's pid (the deno process running main.ts). */
  get pid(): number {
    return this.#child.pid;
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        this.#push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    if (pending) this.#push(pending);
    this.#notify();
  }

  #push(raw: string): void {
    const line: LogLine = { receivedMs: Date.now(), raw, fields: {} };
    try {
      const obj = JSON.parse(raw) as Record<string, unknown>;
      const { level, msg, ...rest } = obj;
      line.level = typeof level === "string" ? level : undefined;
      line.msg = typeof msg === "string" ? msg : undefined;
      line.fields = rest;
    } catch {
      // a non-JSON line (e.g. a panic): kept raw so a failing test can show it
    }
    this.lines.push(line);
    this.#notify();
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }

  /** Lines whose `msg` is exactly `msg`. */
  logged(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /**
   * Resolves with the first line with this `msg` (already logged or still to come); throws
   * LogWaitTimeoutError after `timeoutMs` or when the child's stderr ends without it.
   */
  async waitFor(msg: string, timeoutMs = 15_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    this.#stderrDone.then(() => (ended = true));
    while (true) {
      const hit = this.lines.find((l) => l.msg === msg);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (ended || left <= 0) throw new LogWaitTimeoutError(msg, this.lines.map((l) => l.raw));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 200));
      });
      clearTimeout(timer);
    }
  }

  /** Sends a signal to the child. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Waits for the child to exit and for its output to be read to the end. */
  exited(): Promise<PodperfExit> {
    this.#exit ??= (async () => {
      const status = await this.#child.status;
      const [stdout] = await Promise.all([this.#stdout, this.#stderrDone]);
      return { code: status.code, signal: status.signal, stdout, lines: this.lines };
    })();
    return this.#exit;
  }

  /** Kills the child if it still runs and waits for it; for `finally` blocks. */
  async dispose(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.exited().catch(() => {});
  }
}
