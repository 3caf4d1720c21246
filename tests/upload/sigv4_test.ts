import assert from "@podperf/assert";
import { encodeKeyPath, signRequest } from "../../lib/upload/sigv4.ts";
import { S3Client } from "../../lib/upload/s3_client.ts";
import { staticProvider } from "../../lib/upload/credentials.ts";

// The worked example "GET Object" of the S3 SigV4 documentation (header-based auth).
Deno.test("signs the documented S3 GET Object example to the documented signature", () => {
  const headers = signRequest({
    method: "GET",
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    headers: { Range: "bytes=0-9" },
    payloadSha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    region: "us-east-1",
    service: "s3",
    credentials: {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    },
    now: new Date("2013-05-24T00:00:00Z"),
  });
  assert.equal(
    headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
  assert.equal(headers["x-amz-date"], "20130524T000000Z");
  assert.equal(headers.host, undefined, "fetch sets Host from the URL");
});

Deno.test("a session token is sent and signed", () => {
  const h = signRequest({
    method: "HEAD",
    url: new URL("http://127.0.0.1:9000/b/k"),
    headers: {},
    payloadSha256: "UNSIGNED-PAYLOAD",
    region: "eu-west-1",
    service: "s3",
    credentials: { accessKeyId: "A", secretAccessKey: "S", sessionToken: "TOKEN" },
  });
  assert.equal(h["x-amz-security-token"], "TOKEN");
  assert.match(
    h.authorization,
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
  );
});

Deno.test("keys are encoded per segment, Hive '=' included, slashes kept", () => {
  assert.equal(
    encodeKeyPath("p/date=2026-11-29/a b+c.parquet"),
    "p/date%3D2026-11-29/a%20b%2Bc.parquet",
  );
});

Deno.test("path-style and virtual-hosted URLs", () => {
  const credentials = staticProvider({ accessKeyId: "a", secretAccessKey: "b" });
  const aws = new S3Client({ bucket: "bkt", region: "eu-west-1", credentials });
  assert.equal(aws.url("x/y").href, "https://bkt.s3.eu-west-1.amazonaws.com/x/y");
  const minio = new S3Client({
    bucket: "bkt",
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9000",
    credentials,
  });
  assert.equal(minio.url("x/y", { uploads: "" }).href, "http://127.0.0.1:9000/bkt/x/y?uploads=");
  const forcedVhost = new S3Client({
    bucket: "bkt",
    region: "auto",
    endpoint: "https://acct.r2.example",
    pathStyle: false,
    credentials,
  });
  assert.equal(forcedVhost.url("k").href, "https://bkt.acct.r2.example/k");
});
