/**
 * One S3 client in a fresh process, for the client-choice figures: `sdk` or `podperf`, then the
 * endpoint, then MiB to upload for throughput. Prints one JSON line: time to the first
 * answered request since process start, RSS after it, upload MiB/s and RSS after that.
 */
const [which, endpoint, mib] = Deno.args;
const t0 = performance.now(); // ms since the process's time origin
const creds = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const body = new Uint8Array(Number(mib) << 20);
for (let o = 0; o < body.length; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
let first = 0, put: (key: string, b: Uint8Array) => Promise<unknown>;
const rssMiB = () => Math.round(Deno.memoryUsage().rss / 2 ** 20);
if (which === "sdk") {
  const { S3Client, HeadObjectCommand, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const c = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: creds,
  });
  await c.send(new HeadObjectCommand({ Bucket: "podperf", Key: "none" })).catch(() => {});
  first = performance.now();
  put = (key, b) => c.send(new PutObjectCommand({ Bucket: "podperf", Key: key, Body: b }));
} else {
  const { S3Client } = await import("../../lib/upload/s3_client.ts");
  const { staticProvider } = await import("../../lib/upload/credentials.ts");
  const { createHash } = await import("node:crypto");
  const c = new S3Client({
    bucket: "podperf",
    region: "us-east-1",
    endpoint,
    credentials: staticProvider(creds),
  });
  await c.head("none");
  first = performance.now();
  put = (key, b) =>
    c.put(key, b, {
      md5Base64: createHash("md5").update(b).digest("base64"),
      sha256Hex: createHash("sha256").update(b).digest("hex"),
    });
}
const rssFirst = rssMiB();
const n = 4;
const tp = performance.now();
for (let i = 0; i < n; i++) await put(`bench/${which}-${i}`, body);
const secs = (performance.now() - tp) / 1000;
console.log(JSON.stringify({
  which,
  importAndFirstRequestMs: Math.round(first - t0),
  sinceProcessStartMs: Math.round(first),
  rssAfterFirstMiB: rssFirst,
  putMiBps: Math.round(n * Number(mib) / secs),
  rssAfterPutsMiB: rssMiB(),
}));
