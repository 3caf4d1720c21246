import assert from "@podperf/assert";
import {
  CredentialsError,
  parseWebIdentityResponse,
  providerFromEnv,
  webIdentityRequest,
} from "../../lib/upload/credentials.ts";
import { clientFromEnv } from "../../lib/upload/s3_client.ts";

// The shape of an STS answer as documented for AssumeRoleWithWebIdentity.
const STS_OK = (exp: string) =>
  `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <SessionToken>FwoGZXIvYXdzE&amp;token</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>${exp}</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>`;

Deno.test("AssumeRoleWithWebIdentity request: unsigned form POST with role, session and token", async () => {
  const req = webIdentityRequest(
    {
      roleArn: "arn:aws:iam::123456789012:role/podperf",
      tokenFile: "-",
      region: "eu-west-1",
      sessionName: "n1",
    },
    "eyJhbGciOi.token",
  );
  assert.equal(req.method, "POST");
  assert.equal(req.url, "https://sts.eu-west-1.amazonaws.com/");
  assert.equal(req.headers.get("authorization"), null, "the token is the proof; nothing is signed");
  assert.match(req.headers.get("content-type")!, /^application\/x-www-form-urlencoded/);
  const form = new URLSearchParams(await req.text());
  assert.deepEqual(Object.fromEntries(form), {
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: "arn:aws:iam::123456789012:role/podperf",
    RoleSessionName: "n1",
    WebIdentityToken: "eyJhbGciOi.token",
  });
});

Deno.test("STS answers are parsed; errors name STS's code", () => {
  const c = parseWebIdentityResponse(200, STS_OK("2026-11-29T20:00:00Z"));
  assert.equal(c.accessKeyId, "ASgeIAIOSFODNN7EXAMPLE");
  assert.equal(c.sessionToken, "FwoGZXIvYXdzE&token");
  assert.equal(c.expiresAt, Date.parse("2026-11-29T20:00:00Z"));
  assert.throws(
    () =>
      parseWebIdentityResponse(
        400,
        "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>expired</Message></Error></ErrorResponse>",
      ),
    (e) => e instanceof CredentialsError && /InvalidIdentityToken expired/.test(e.message),
  );
});

Deno.test("web identity from the environment: token file re-read, credentials cached until near expiry", async () => {
  const dir = await Deno.makeTempDir();
  const tokenFile = `${dir}/token`;
  await Deno.writeTextFile(tokenFile, "tok-1\n");
  const seen: string[] = [];
  let expires = new Date(Date.now() + 3_600_000).toISOString();
  // stands in for STS (unreachable here): answers with the documented response shape
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(new URLSearchParams(await req.text()).get("WebIdentityToken")!);
    return new Response(STS_OK(expires), { headers: { "content-type": "text/xml" } });
  });
  try {
    const env = {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
      AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${server.addr.port}`,
    };
    const p = providerFromEnv(env, "us-east-1");
    assert.equal(p.source, "web-identity arn:aws:iam::1:role/r");
    const [a, b] = await Promise.all([p.get(), p.get()]);
    assert.equal(a, b);
    assert.deepEqual(seen, ["tok-1"], "one exchange for concurrent callers");
    await p.get();
    assert.equal(seen.length, 1, "cached while valid");
    // credentials close to expiry are exchanged again with the rotated token
    expires = new Date(Date.now() + 60_000).toISOString();
    await Deno.writeTextFile(tokenFile, "tok-2");
    const p2 = providerFromEnv(env, "us-east-1");
    await p2.get();
    await p2.get();
    assert.deepEqual(seen, ["tok-1", "tok-2", "tok-2"]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no credentials: one clear error naming the variables; static keys win", () => {
  assert.throws(
    () => providerFromEnv({}, "us-east-1"),
    /AWS_ACCESS_KEY_ID.*AWS_WEB_IDENTITY_TOKEN_FILE/,
  );
  const c = clientFromEnv("bkt", {
    AWS_ACCESS_KEY_ID: "a",
    AWS_SECRET_ACCESS_KEY: "b",
    AWS_REGION: "eu-central-1",
    AWS_ENDPOINT_URL: "http://127.0.0.1:1",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:2",
  });
  assert.equal(c.credentials.source, "env");
  assert.equal(c.region, "eu-central-1");
  assert.equal(c.endpoint.href, "http://127.0.0.1:2/", "the S3-specific endpoint wins");
  assert.equal(c.pathStyle, true);
  assert.equal(
    clientFromEnv("bkt", {
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
      PODPERF_S3_PATH_STYLE: "false",
      AWS_ENDPOINT_URL: "http://h:1",
    }).pathStyle,
    false,
  );
});

Deno.test({
  name: "web identity credentials (with their session token) sign requests a real S3 server takes",
  sanitizeResources: false,
  async fn() {
    const { S3rver } = await import("../helpers/s3rver.ts");
    const server = await S3rver.start();
    const dir = await Deno.makeTempDir();
    // stands in for STS: hands out s3rver's key as temporary credentials
    const sts = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      await req.text();
      const xml = STS_OK(new Date(Date.now() + 3_600_000).toISOString())
        .replace("ASgeIAIOSFODNN7EXAMPLE", "S3RVER")
        .replace("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "S3RVER");
      return new Response(xml);
    });
    try {
      await Deno.writeTextFile(`${dir}/token`, "jwt");
      const client = clientFromEnv("podperf", {
        AWS_WEB_IDENTITY_TOKEN_FILE: `${dir}/token`,
        AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${sts.addr.port}`,
        AWS_ENDPOINT_URL: server.endpoint,
      });
      const body = new TextEncoder().encode("hello");
      const { createHash } = await import("node:crypto");
      await client.put("k", body, { md5Base64: createHash("md5").update(body).digest("base64") });
      assert.equal((await client.head("k"))?.size, 5);
    } finally {
      await sts.shutdown();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
