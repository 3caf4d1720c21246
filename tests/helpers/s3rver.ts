/**
 * A real S3-compatible server for the tests: npm `s3rver` run by node as its own process on a
 * random loopback port, so a test can kill it mid-upload and start it again on the same port
 * with the same data directory.
 */
import { S3Client } from "../../lib/upload/s3_client.ts";
import { staticProvider } from "../../lib/upload/credentials.ts";

/** s3rver's fixed credentials. */
export const S3RVER_KEY = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** A running s3rver. */
export class S3rver {
  #child: Deno.ChildProcess | null = null;
  private constructor(readonly dir: string, readonly buckets: string[], public port: number) {}

  /** Starts a server with `buckets` in a new temporary data directory. */
  static async start(buckets: string[] = ["podperf"]): Promise<S3rver> {
    const s = new S3rver(await Deno.makeTempDir({ prefix: "s3rver-" }), buckets, 0);
    try {
      await s.restart();
    } catch (e) {
      // once more: on a machine shared by many test runs node has been seen to stall at start
      console.error(`s3rver: second start after: ${(e as Error).message}`);
      await s.kill();
      await s.restart();
    }
    return s;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Environment a podperf process needs to reach this server. */
  env(key = S3RVER_KEY): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: this.endpoint,
    };
  }

  client(
    opts: { bucket?: string; key?: typeof S3RVER_KEY; timeoutMs?: number; fetch?: typeof fetch } =
      {},
  ): S3Client {
    return new S3Client({
      bucket: opts.bucket ?? this.buckets[0],
      region: "us-east-1",
      endpoint: this.endpoint,
      credentials: staticProvider(opts.key ?? S3RVER_KEY),
      timeoutMs: opts.timeoutMs ?? 10_000,
      // a test's own fetch sees (or disturbs) every request
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  }

  /** (Re)starts the server on its port (a new random one the first time). */
  async restart(): Promise<void> {
    const args = [
      new URL("../../node_modules/s3rver/bin/s3rver.js", import.meta.url).pathname,
      "-d",
      this.dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(this.port),
    ];
    for (const b of this.buckets) args.push("--configure-bucket", b);
    const child = new Deno.Command("node", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    let errText = "";
    (async () => {
      try {
        for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
          errText = (errText + c).slice(-2000);
        }
      } catch { /* closed */ }
    })();
    // s3rver prints "S3rver listening on 127.0.0.1:PORT" once it accepts connections
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let late = false;
    // generous: node's start-up on a machine shared by many test runs can take long
    const deadline = setTimeout(() => {
      late = true;
      child.kill("SIGKILL");
    }, 60_000);
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) {
          throw new Error(
            `s3rver ${late ? "not listening after 60 s" : "exited before listening"}: ` +
              `${seen}${errText}`,
          );
        }
        seen += value;
        const m = /listening on [^:\s]+:(\d+)/.exec(seen);
        if (m) {
          this.port = Number(m[1]);
          break;
        }
      }
    } finally {
      clearTimeout(deadline);
    }
    // keep draining its log so it never blocks on a full pipe
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* closed */ }
    })();
  }

  /** Kills the server at once (SIGKILL), as a crash or a network cut would. */
  async kill(): Promise<void> {
    if (!this.#child) return;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
    this.#child = null;
  }

  /** Stops the server and removes its data. */
  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
