/**
 * Ships completed Parquet files to S3 exactly once. The output directory is the queue: a file is
 * deleted locally only after the store confirmed it (size and SHA-256 read back with HEAD); a
 * file whose object already exists with the same SHA-256 is not sent again, so a restart after
 * a crash between upload and delete only deletes. All IO is async and hashing goes in 1 MiB
 * steps, so the drain loop and NRI are never held up for long.
 */
import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { log } from "../log.ts";
import type { MetricsSource } from "../agent/metrics_source.ts";
import { CredentialsError } from "./credentials.ts";
import { objectKey } from "./layout.ts";
import {
  type CompletedPart,
  S3Client,
  S3Error,
  type S3Location,
  S3NetworkError,
} from "./s3_client.ts";

/** The object in the store does not match the local file after upload. */
export class UploadVerifyError extends Error {
  override name = "UploadVerifyError";
  constructor(readonly key: string, message: string) {
    super(`upload of ${key} not confirmed: ${message}`);
  }
}

/** Options of an Uploader. */
export interface UploaderOptions {
  /** the collector's output directory */
  dir: string;
  location: S3Location;
  client: S3Client;
  /** node name for keys of files whose name does not carry one */
  node: string;
  /** files uploaded at once (default 2) */
  concurrency?: number;
  /** multipart part size (default 8 MiB; S3's minimum is 5 MiB) */
  partBytes?: number;
  /** files above this go up in parts (default: partBytes) */
  multipartThreshold?: number;
  /** first retry delay and cap, ms (defaults 1 s and 5 min); each delay has full jitter */
  retryBaseMs?: number;
  retryMaxMs?: number;
  random?: () => number;
}

/** Counters of the uploader, for the stats line and /metrics. */
export interface UploadStats {
  /** files waiting (including in flight and waiting for a retry) */
  queued: number;
  inFlight: number;
  /** files uploaded and confirmed */
  uploaded: number;
  /** files found already in the store with the same SHA-256 (not sent again) */
  alreadyPresent: number;
  /** failed attempts (each is retried) */
  failed: number;
  /** bytes of confirmed uploads */
  bytes: number;
  /** age of the oldest waiting file, seconds (0 when none) */
  oldestPendingAgeS: number;
  /** files that disappeared before they were uploaded (retention dropped them) */
  vanished: number;
  lastError: string | null;
}

interface Entry {
  path: string;
  since: number;
  attempts: number;
  nextAt: number;
  running: boolean;
}

const CHUNK = 1 << 20;
const SHA_META = "podperf-sha256";
// rotation.ts names files podperf-<node>-<UTC stamp>-<seq>.parquet
const NODE_IN_NAME = /^podperf-(.+)-\d{8}T\d{6}(?:\.\d+)?Z-\d+\.parquet$/;

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) throw new Error(`file shorter than expected (${off} of ${buf.length} bytes)`);
    off += n;
  }
}

/** MD5 (base64 and hex) and SHA-256 of bytes, in 1 MiB steps with a yield between them. */
async function digestOf(
  bytes: Uint8Array,
  withSha = true,
): Promise<{ md5Base64: string; md5Hex: string; sha256Hex: string | undefined }> {
  const md5 = createHash("md5"), sha = withSha ? createHash("sha256") : null;
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const part = bytes.subarray(off, Math.min(off + CHUNK, bytes.length));
    md5.update(part);
    sha?.update(part);
    if (off + CHUNK < bytes.length) await new Promise((r) => setTimeout(r, 0));
  }
  const m = md5.digest();
  return {
    md5Base64: m.toString("base64"),
    md5Hex: m.toString("hex"),
    sha256Hex: sha?.digest("hex"),
  };
}

/** Uploads completed files from the output directory; see the module comment. */
export class Uploader implements MetricsSource {
  readonly #o: Required<Omit<UploaderOptions, "random">> & { random: () => number };
  readonly #entries = new Map<string, Entry>();
  #running = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #idle: (() => void)[] = [];
  #s = { uploaded: 0, alreadyPresent: 0, failed: 0, bytes: 0, vanished: 0 };
  #lastError: string | null = null;
  #storeFailures = 0;
  #holdUntil = 0;

  constructor(o: UploaderOptions) {
    const partBytes = o.partBytes ?? 8 << 20;
    this.#o = {
      concurrency: 2,
      retryBaseMs: 1000,
      retryMaxMs: 300_000,
      random: Math.random,
      ...o,
      partBytes,
      multipartThreshold: o.multipartThreshold ?? partBytes,
    };
  }

  /** Queues the completed files already in the directory (left by an earlier run). */
  async start(): Promise<void> {
    const c = this.#o.client;
    log.info("upload: target", {
      url: `s3://${this.#o.location.bucket}/${this.#o.location.prefix}`,
      endpoint: c.endpoint.origin,
      pathStyle: c.pathStyle,
      region: c.region,
      credentials: c.credentials.source,
    });
    const names: string[] = [];
    for await (const e of Deno.readDir(this.#o.dir)) {
      // completed files only: the writer's temporaries are `.name.parquet.tmp`
      if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) names.push(e.name);
    }
    names.sort(); // oldest first: names carry their UTC opening time
    for (const n of names) this.enqueue(join(this.#o.dir, n));
    if (names.length) log.info("upload: files left from an earlier run", { files: names.length });
  }

  /** Queues a completed file (the writer's onFileClosed). */
  enqueue(file: string): void {
    // one spelling per file, whichever way the writer, the scan or retention names it
    const path = resolve(file);
    if (this.#stopped || this.#entries.has(path)) return;
    const now = Date.now();
    this.#entries.set(path, { path, since: now, attempts: 0, nextAt: now, running: false });
    this.#pump();
  }

  /** Retention's predicate: true while the file is not confirmed in the store. */
  keep(path: string): boolean {
    return this.#entries.has(resolve(path));
  }

  stats(): UploadStats {
    let oldest = Infinity;
    for (const e of this.#entries.values()) oldest = Math.min(oldest, e.since);
    return {
      queued: this.#entries.size,
      inFlight: this.#running,
      ...this.#s,
      oldestPendingAgeS: oldest === Infinity ? 0 : (Date.now() - oldest) / 1000,
      lastError: this.#lastError,
    };
  }

  renderMetrics(): string {
    const s = this.stats();
    const fam = (name: string, type: string, help: string, v: number) =>
      `# HELP podperf_upload_${name} ${help}\n# TYPE podperf_upload_${name} ${type}\n` +
      `podperf_upload_${name} ${v}\n`;
    return fam(
      "queued_files",
      "gauge",
      "Completed files not yet confirmed in the store.",
      s.queued,
    ) +
      fam("in_flight_files", "gauge", "Files being uploaded now.", s.inFlight) +
      fam("uploaded_files_total", "counter", "Files uploaded and confirmed.", s.uploaded) +
      fam(
        "already_present_files_total",
        "counter",
        "Files found in the store with the same SHA-256, not sent again.",
        s.alreadyPresent,
      ) +
      fam("failures_total", "counter", "Failed upload attempts (retried).", s.failed) +
      fam("bytes_total", "counter", "Bytes of confirmed uploads.", s.bytes) +
      fam(
        "oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest file waiting for upload.",
        s.oldestPendingAgeS,
      ) +
      fam(
        "vanished_files_total",
        "counter",
        "Files removed locally (retention) before they were uploaded.",
        s.vanished,
      );
  }

  /**
   * Waits up to `waitMs` for the queue to empty, then stops: what is left stays in the
   * directory for the next start.
   */
  async close(waitMs = 20_000): Promise<void> {
    if (this.#entries.size > 0 && waitMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#idle.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, waitMs))),
      ]);
      clearTimeout(timer);
    }
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#entries.size > 0) {
      log.warn("upload: files left for the next start", { files: this.#entries.size });
    }
  }

  #pump(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    // the store itself is failing: one file probes it when the hold ends, the rest wait
    if (this.#holdUntil > now) {
      if (this.#running === 0) {
        this.#timer = setTimeout(() => this.#pump(), this.#holdUntil - now);
      }
      return;
    }
    let next = Infinity;
    const limit = this.#storeFailures > 0 ? 1 : this.#o.concurrency;
    for (const e of this.#entries.values()) {
      if (this.#running >= limit) break;
      if (e.running) continue;
      if (e.nextAt > now) {
        next = Math.min(next, e.nextAt);
        continue;
      }
      e.running = true;
      this.#running++;
      this.#attempt(e).finally(() => {
        e.running = false;
        this.#running--;
        if (this.#entries.size === 0) { for (const r of this.#idle.splice(0)) r(); }
        this.#pump();
      });
    }
    if (next !== Infinity && this.#running < limit) {
      this.#timer = setTimeout(() => this.#pump(), Math.max(0, next - now));
    }
  }

  async #attempt(e: Entry): Promise<void> {
    try {
      const done = await this.#uploadFile(e.path);
      this.#storeFailures = 0;
      this.#holdUntil = 0;
      this.#entries.delete(e.path);
      if (done === "vanished") return;
      try {
        await Deno.remove(e.path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          log.warn("upload: cannot delete the uploaded file", {
            path: e.path,
            error: (err as Error).message,
          });
        }
      }
    } catch (err) {
      e.attempts++;
      this.#s.failed++;
      const msg = (err as Error).message;
      this.#lastError = msg;
      const auth = err instanceof S3Error && err.isAuth;
      const creds = err instanceof CredentialsError;
      // unreachable, overloaded or refusing us: the whole store, not this file, is the problem
      const store = auth || creds || err instanceof S3NetworkError ||
        (err instanceof S3Error && (err.status >= 500 || err.status === 429));
      const n = store ? ++this.#storeFailures : e.attempts;
      const cap = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(n - 1, 20));
      // half fixed, half random: nodes that lost the store together do not come back in step
      const delay = cap / 2 + this.#o.random() * cap / 2;
      e.nextAt = Date.now() + delay;
      if (store) this.#holdUntil = e.nextAt;
      log.throttled(
        auth || creds ? "upload-auth" : "upload-failure",
        auth || creds ? "error" : "warn",
        auth
          ? `upload: the store refused the credentials (${(err as S3Error).code}); ` +
            "files are kept and retried"
          : creds
          ? `upload: ${msg}; files are kept and retried`
          : "upload failed; file kept and retried",
        { path: e.path, error: msg, attempt: e.attempts, retryInMs: Math.round(delay) },
      );
    }
  }

  /** Uploads one file and confirms it; "vanished" when it is no longer there. */
  async #uploadFile(path: string): Promise<"uploaded" | "present" | "vanished"> {
    const name = basename(path);
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        this.#s.vanished++;
        log.warn("upload: file removed before it was uploaded", { path });
        return "vanished";
      }
      throw err;
    }
    try {
      const st = await f.stat();
      const size = st.size;
      const node = NODE_IN_NAME.exec(name)?.[1] ?? this.#o.node;
      const key = objectKey(this.#o.location.prefix, node, name, st.mtime?.getTime() ?? Date.now());
      const c = this.#o.client;
      const small = size <= this.#o.multipartThreshold;
      // whole-file SHA-256 first: it decides whether the object is already there
      let whole: Uint8Array | null = null;
      let wholeDigest: Awaited<ReturnType<typeof digestOf>> | null = null;
      let sha: string;
      if (small) {
        whole = new Uint8Array(size);
        await readFull(f, whole);
        wholeDigest = await digestOf(whole);
        sha = wholeDigest.sha256Hex!;
      } else {
        const h = createHash("sha256");
        const buf = new Uint8Array(CHUNK);
        for (let off = 0; off < size; off += CHUNK) {
          const n = Math.min(CHUNK, size - off);
          await readFull(f, buf.subarray(0, n));
          h.update(buf.subarray(0, n));
        }
        sha = h.digest("hex");
      }
      const existing = await c.head(key);
      if (existing && existing.size === size && existing.meta[SHA_META] === sha) {
        this.#s.alreadyPresent++;
        log.info("upload: already in the store, not sent again", { path, key });
        return "present";
      }
      if (existing) {
        log.warn("upload: replacing a different object under the same key", { key });
      }
      const meta = { [SHA_META]: sha, "podperf-node": node };
      if (whole && wholeDigest) {
        const d = wholeDigest;
        const { etag, sse } = await c.put(key, whole, d, meta);
        // with SSE-KMS the ETag is not an MD5; the store checked Content-MD5 all the same
        if (etag && etag !== d.md5Hex && !sse?.startsWith("aws:kms")) {
          throw new UploadVerifyError(key, `ETag ${etag} is not the MD5 ${d.md5Hex}`);
        }
      } else {
        await this.#multipart(f, key, size, meta);
      }
      const head = await c.head(key);
      if (!head) throw new UploadVerifyError(key, "object not found after upload");
      if (head.size !== size || head.meta[SHA_META] !== sha) {
        throw new UploadVerifyError(
          key,
          `store has ${head.size} bytes sha256 ${head.meta[SHA_META]}, local ${size} ${sha}`,
        );
      }
      this.#s.uploaded++;
      this.#s.bytes += size;
      log.info("upload: file confirmed in the store", { path, key, bytes: size });
      return "uploaded";
    } finally {
      f.close();
    }
  }

  async #multipart(f: Deno.FsFile, key: string, size: number, meta: Record<string, string>) {
    const c = this.#o.client;
    const id = await c.createMultipart(key, meta);
    try {
      const parts: CompletedPart[] = [];
      const buf = new Uint8Array(this.#o.partBytes);
      await f.seek(0, Deno.SeekMode.Start);
      for (let off = 0, n = 1; off < size; off += this.#o.partBytes, n++) {
        const body = buf.subarray(0, Math.min(this.#o.partBytes, size - off));
        await readFull(f, body);
        // parts are signed with their SHA-256 only over plain HTTP (see S3Client)
        const d = await digestOf(body, c.endpoint.protocol !== "https:");
        const { etag, sse } = await c.uploadPart(key, id, n, body, d);
        if (etag && etag !== d.md5Hex && !sse?.startsWith("aws:kms")) {
          throw new UploadVerifyError(key, `part ${n} ETag ${etag} is not the MD5 ${d.md5Hex}`);
        }
        parts.push({ partNumber: n, etag: etag || d.md5Hex });
      }
      await c.completeMultipart(key, id, parts);
    } catch (err) {
      // free the parts; a store that is down keeps them until its lifecycle rule (README)
      await c.abortMultipart(key, id).catch(() => {});
      throw err;
    }
  }
}
