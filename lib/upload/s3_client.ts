/**
 * The S3 requests podperf makes (HEAD, PUT, multipart, list, ranged GET), signed with SigV4 over
 * `fetch`. Works with any S3-compatible store: AWS, MinIO, Ceph RGW, R2, GCS interop.
 */
import { type CredentialProvider, providerFromEnv } from "./credentials.ts";
import { EMPTY_SHA256, encodeKeyPath, sha256Hex, signRequest } from "./sigv4.ts";
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

/** The store answered with an error. */
export class S3Error extends Error {
  override name = "S3Error";
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly operation: string,
    readonly key: string,
  ) {
    super(`S3 ${operation} ${key}: ${status} ${code}${detail ? ` (${detail})` : ""}`);
  }
  /** true for answers that say the credentials or their rights are wrong */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403 ||
      ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"]
        .includes(this.code);
  }
}

/** The store could not be reached (refused, reset, timed out). */
export class S3NetworkError extends Error {
  override name = "S3NetworkError";
  constructor(readonly operation: string, readonly key: string, options?: ErrorOptions) {
    super(
      `S3 ${operation} ${key}: store unreachable (${(options?.cause as Error)?.message})`,
      options,
    );
  }
}

/** Where and how to reach the store. */
export interface S3ClientOptions {
  bucket: string;
  region: string;
  /** e.g. http://127.0.0.1:9000; default https://s3.REGION.amazonaws.com */
  endpoint?: string;
  /** bucket in the path (http://host/bucket/key) rather than the host name */
  pathStyle?: boolean;
  credentials: CredentialProvider;
  /** per-request timeout, ms (default 120 s) */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** What HEAD tells about an object. */
export interface ObjectHead {
  size: number;
  etag: string;
  /** x-amz-meta-* headers, names without the prefix */
  meta: Record<string, string>;
  /** server-side encryption, when the store says (aws:kms ETags are not MD5s) */
  sse: string | null;
}

/** One listed object. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
}

/** A part of a multipart upload as CompleteMultipartUpload names it. */
export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** Headers of a body to upload: its MD5 (base64, checked by the store) and SHA-256 (hex). */
export interface BodyDigest {
  md5Base64: string;
  /** needed to sign over plain HTTP; computed from the body when absent */
  sha256Hex?: string;
}

const STATUS_CODES: Record<number, string> = {
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  503: "ServiceUnavailable",
};

const unquote = (etag: string | null) => (etag ?? "").replace(/^"|"$/g, "");

/** Headers of a new object: its type and the caller's metadata as x-amz-meta-*. */
function objectHeaders(meta: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/vnd.apache.parquet" };
  for (const [k, v] of Object.entries(meta)) headers[`x-amz-meta-${k}`] = v;
  return headers;
}

/** What a PUT of an object or a part answers: its ETag and server-side encryption. */
async function stored(res: Response): Promise<{ etag: string; sse: string | null }> {
  await res.body?.cancel();
  return {
    etag: unquote(res.headers.get("etag")),
    sse: res.headers.get("x-amz-server-side-encryption"),
  };
}

/** A signed S3 client bound to one bucket. */
export class S3Client {
  readonly bucket: string;
  readonly region: string;
  readonly endpoint: URL;
  readonly pathStyle: boolean;
  readonly credentials: CredentialProvider;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(o: S3ClientOptions) {
    this.bucket = o.bucket;
    this.region = o.region;
    this.endpoint = new URL(o.endpoint ?? `https://s3.${o.region}.amazonaws.com`);
    // dotted bucket names break TLS host names in virtual-hosted style
    this.pathStyle = o.pathStyle ?? (o.endpoint !== undefined || o.bucket.includes("."));
    this.credentials = o.credentials;
    this.#timeoutMs = o.timeoutMs ?? 120_000;
    this.#fetch = o.fetch ?? fetch;
  }

  /** URL of an object (or of the bucket when key is ""). */
  url(key: string, query: Record<string, string> = {}): URL {
    const base = new URL(this.endpoint);
    const basePath = base.pathname.replace(/\/$/, "");
    if (this.pathStyle) {
      base.pathname = `${basePath}/${this.bucket}/${encodeKeyPath(key)}`;
    } else {
      base.hostname = `${this.bucket}.${base.hostname}`;
      base.pathname = `${basePath}/${encodeKeyPath(key)}`;
    }
    for (const [k, v] of Object.entries(query)) base.searchParams.set(k, v);
    return base;
  }

  async #send(
    operation: string,
    method: string,
    key: string,
    opts: {
      query?: Record<string, string>;
      headers?: Record<string, string>;
      body?: Uint8Array;
      sha256?: string;
      ok?: (status: number) => boolean;
    } = {},
  ): Promise<Response> {
    const url = this.url(key, opts.query);
    const credentials = await this.credentials.get();
    // over TLS the body's integrity is TLS's and Content-MD5's job: hashing it once more for
    // the signature would cost a SHA-256 pass per byte uploaded
    const unsigned = opts.body !== undefined && url.protocol === "https:";
    const headers = signRequest({
      method,
      url,
      headers: opts.headers ?? {},
      payloadSha256: unsigned
        ? "UNSIGNED-PAYLOAD"
        : opts.sha256 ?? (opts.body ? sha256Hex(opts.body) : EMPTY_SHA256),
      region: this.region,
      service: "s3",
      credentials,
    });
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        body: opts.body as BodyInit | undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new S3NetworkError(operation, key, { cause: e });
    }
    if (opts.ok ? opts.ok(res.status) : res.status >= 200 && res.status < 300) return res;
    const text = method === "HEAD" ? "" : await res.text().catch(() => "");
    throw new S3Error(
      res.status,
      // HEAD answers have no body: name the status
      xmlText(text, "Code") ?? STATUS_CODES[res.status] ?? `HTTP${res.status}`,
      xmlText(text, "Message") ?? "",
      operation,
      key,
    );
  }

  /** HEAD of an object; null when it does not exist. */
  async head(key: string): Promise<ObjectHead | null> {
    const res = await this.#send("HeadObject", "HEAD", key, {
      ok: (s) => s === 200 || s === 404,
    });
    await res.body?.cancel();
    if (res.status === 404) return null;
    const meta: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (k.startsWith("x-amz-meta-")) meta[k.slice(11)] = v;
    });
    return {
      size: Number(res.headers.get("content-length") ?? 0),
      etag: unquote(res.headers.get("etag")),
      meta,
      sse: res.headers.get("x-amz-server-side-encryption"),
    };
  }

  /** PUT of a whole object; returns its ETag. The store checks Content-MD5. */
  async put(
    key: string,
    body: Uint8Array,
    digest: BodyDigest,
    meta: Record<string, string> = {},
  ): Promise<{ etag: string; sse: string | null }> {
    const res = await this.#send("PutObject", "PUT", key, {
      headers: { ...objectHeaders(meta), "content-md5": digest.md5Base64 },
      body,
      sha256: digest.sha256Hex,
    });
    return await stored(res);
  }

  /** Starts a multipart upload; returns the upload id. */
  async createMultipart(key: string, meta: Record<string, string> = {}): Promise<string> {
    const res = await this.#send("CreateMultipartUpload", "POST", key, {
      query: { uploads: "" },
      headers: objectHeaders(meta),
    });
    const id = xmlText(await res.text(), "UploadId");
    if (!id) throw new S3Error(res.status, "NoUploadId", "no UploadId", "CreateMultipart", key);
    return id;
  }

  /** Uploads one part (1-based number); returns its ETag. */
  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    digest: BodyDigest,
  ): Promise<{ etag: string; sse: string | null }> {
    const res = await this.#send("UploadPart", "PUT", key, {
      query: { partNumber: String(partNumber), uploadId },
      headers: { "content-md5": digest.md5Base64 },
      body,
      sha256: digest.sha256Hex,
    });
    return await stored(res);
  }

  /** Completes a multipart upload; returns the object's ETag. */
  async completeMultipart(key: string, uploadId: string, parts: CompletedPart[]): Promise<string> {
    const xml = "<CompleteMultipartUpload>" +
      parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>"${xmlEscape(p.etag)}"</ETag></Part>`
      ).join("") + "</CompleteMultipartUpload>";
    const body = new TextEncoder().encode(xml);
    const res = await this.#send("CompleteMultipartUpload", "POST", key, {
      query: { uploadId },
      headers: { "content-type": "application/xml" },
      body,
    });
    const text = await res.text();
    // S3 may answer 200 and put the error in the body
    const code = xmlText(text, "Code");
    if (code && !xmlText(text, "ETag")) {
      throw new S3Error(200, code, xmlText(text, "Message") ?? "", "CompleteMultipart", key);
    }
    return unquote(xmlText(text, "ETag"));
  }

  /** Abandons a multipart upload (its parts are freed). */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    const res = await this.#send("AbortMultipartUpload", "DELETE", key, {
      query: { uploadId },
      ok: (s) => (s >= 200 && s < 300) || s === 404,
    });
    await res.body?.cancel();
  }

  /** One page of ListObjectsV2 under a prefix. */
  async list(
    prefix: string,
    continuationToken?: string,
  ): Promise<{ objects: ListedObject[]; next: string | null }> {
    const query: Record<string, string> = { "list-type": "2", prefix };
    if (continuationToken) query["continuation-token"] = continuationToken;
    const res = await this.#send("ListObjectsV2", "GET", "", { query });
    const text = await res.text();
    const objects = xmlBlocks(text, "Contents").map((c) => ({
      key: xmlText(c, "Key") ?? "",
      size: Number(xmlText(c, "Size") ?? 0),
      etag: unquote(xmlText(c, "ETag")),
    }));
    const truncated = xmlText(text, "IsTruncated") === "true";
    return { objects, next: truncated ? xmlText(text, "NextContinuationToken") : null };
  }

  /** Every object under a prefix, page by page. */
  async *listAll(prefix: string): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      const page = await this.list(prefix, token);
      yield* page.objects;
      token = page.next ?? undefined;
    } while (token);
  }

  /** Bytes [start, end) of an object. */
  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const res = await this.#send("GetObject", "GET", key, {
      headers: { range: `bytes=${start}-${end - 1}` },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    // a store that ignores Range answers 200 with the whole object
    if (res.status === 200 && bytes.length !== end - start) return bytes.slice(start, end);
    return bytes;
  }

  /** Deletes an object (tests and tools; the uploader never deletes remote objects). */
  async delete(key: string): Promise<void> {
    const res = await this.#send("DeleteObject", "DELETE", key);
    await res.body?.cancel();
  }
}

/** `s3://bucket/prefix` split; the prefix has no leading and no trailing slash. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** An `s3://` URL that cannot be used. */
export class S3UrlError extends Error {
  override name = "S3UrlError";
}

/** Parses `s3://BUCKET[/PREFIX]`. */
export function parseS3Url(text: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  if (!m) throw new S3UrlError(`"${text}" is not an s3://BUCKET/PREFIX URL`);
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new S3UrlError(`"${bucket}" is not a valid S3 bucket name`);
  }
  return { bucket, prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

/** True for `s3://…` arguments. */
export const isS3Url = (text: string) => text.startsWith("s3://");

/**
 * A client for `bucket` configured as the AWS CLI would be from the environment: region from
 * AWS_REGION / AWS_DEFAULT_REGION (default us-east-1), endpoint from AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL, path-style from PODPERF_S3_PATH_STYLE (default: on for custom endpoints).
 */
export function clientFromEnv(
  bucket: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): S3Client {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const ps = env.PODPERF_S3_PATH_STYLE;
  return new S3Client({
    bucket,
    region,
    endpoint,
    pathStyle: ps === undefined || ps === "" ? undefined : ps === "1" || ps === "true",
    credentials: providerFromEnv(env, region),
  });
}
