/**
 * AWS Signature Version 4 for S3 and STS requests over `fetch`: a few dozen lines instead of an
 * SDK (see README "Shipping data off the node" for the measurements behind that choice).
 */
import { createHash, createHmac } from "node:crypto";

/** Access key, secret and (for temporary credentials) the session token. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** when temporary credentials stop working (ms since the epoch) */
  expiresAt?: number;
}

/** What is signed: method, full URL and the headers to send (host is taken from the URL). */
export interface SignInput {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
  payloadSha256: string;
  region: string;
  service: string;
  credentials: AwsCredentials;
  /** signing time (default now) */
  now?: Date;
}

/** SHA-256 of an empty body, the payload hash of GET/HEAD/DELETE. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Hex SHA-256 of bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

// RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes.
function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Encodes an S3 object key for the URL path: each segment encoded, slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split("/").map(encodeRfc3986).join("/");
}

function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams.entries()].map((
    [k, v],
  ) => [encodeRfc3986(k), encodeRfc3986(v)]);
  pairs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/** "20261129T190000Z" */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

const keyCache = new Map<string, Buffer>();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  let k = keyCache.get(id);
  if (!k) {
    const kDate = createHmac("sha256", `AWS4${secret}`).update(date).digest();
    const kRegion = createHmac("sha256", kDate).update(region).digest();
    const kService = createHmac("sha256", kRegion).update(service).digest();
    k = createHmac("sha256", kService).update("aws4_request").digest();
    // one key per day, region and service: a handful in any run, bounded all the same
    if (keyCache.size >= 16) keyCache.clear();
    keyCache.set(id, k);
  }
  return k;
}

/**
 * Returns the headers to send: the input headers plus host, x-amz-date, x-amz-content-sha256,
 * x-amz-security-token (temporary credentials) and Authorization.
 */
export function signRequest(input: SignInput): Record<string, string> {
  const now = input.now ?? new Date();
  const stamp = amzDate(now);
  const date = stamp.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers["host"] = input.url.host;
  headers["x-amz-date"] = stamp;
  headers["x-amz-content-sha256"] = input.payloadSha256;
  if (input.credentials.sessionToken) {
    headers["x-amz-security-token"] = input.credentials.sessionToken;
  }
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const signedHeaders = names.join(";");
  const canonical = [
    input.method,
    input.url.pathname || "/",
    canonicalQuery(input.url),
    canonicalHeaders,
    signedHeaders,
    input.payloadSha256,
  ].join("\n");
  const scope = `${date}/${input.region}/${input.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, sha256Hex(canonical)].join("\n");
  const key = signingKey(input.credentials.secretAccessKey, date, input.region, input.service);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/` +
    `${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  // fetch sets Host itself from the URL; sending it too is refused by some runtimes
  delete headers["host"];
  return headers;
}
