/**
 * Credentials the way AWS tools take them: static keys from the environment, or on Kubernetes
 * (EKS/IRSA) a web identity token exchanged at STS (AssumeRoleWithWebIdentity) and refreshed
 * before it expires.
 */
import type { AwsCredentials } from "./sigv4.ts";
import { xmlText } from "./xml.ts";

/** No usable credentials, or STS refused to exchange the web identity token. */
export class CredentialsError extends Error {
  override name = "CredentialsError";
}

/** Gives current credentials; may fetch or refresh them. */
export interface CredentialProvider {
  get(): Promise<AwsCredentials>;
  /** where the credentials come from, for logs ("env", "web-identity <role>") */
  readonly source: string;
}

/** Static credentials (AWS_ACCESS_KEY_ID …). */
export function staticProvider(c: AwsCredentials, source = "env"): CredentialProvider {
  return { source, get: () => Promise.resolve(c) };
}

/** What AssumeRoleWithWebIdentity is called with. */
export interface WebIdentityOptions {
  roleArn: string;
  tokenFile: string;
  sessionName?: string;
  region: string;
  /** STS endpoint (default https://sts.REGION.amazonaws.com; AWS_ENDPOINT_URL_STS overrides) */
  endpoint?: string;
  fetch?: typeof fetch;
  /** refresh this long before expiry (default 5 min) */
  refreshBeforeMs?: number;
}

/**
 * The AssumeRoleWithWebIdentity request. It is not signed: the token is the proof, so the
 * request carries no AWS credentials at all.
 */
export function webIdentityRequest(o: WebIdentityOptions, token: string): Request {
  const endpoint = o.endpoint ?? `https://sts.${o.region}.amazonaws.com`;
  const body = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: o.roleArn,
    RoleSessionName: o.sessionName ?? `podperf-${Date.now()}`,
    WebIdentityToken: token,
  });
  return new Request(new URL("/", endpoint), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      accept: "application/xml",
    },
    body: body.toString(),
  });
}

/** Parses an AssumeRoleWithWebIdentityResponse (or an STS ErrorResponse, thrown). */
export function parseWebIdentityResponse(status: number, xml: string): AwsCredentials {
  if (status !== 200) {
    const code = xmlText(xml, "Code") ?? `HTTP ${status}`;
    const msg = xmlText(xml, "Message") ?? "";
    throw new CredentialsError(`STS AssumeRoleWithWebIdentity refused: ${code} ${msg}`.trim());
  }
  const accessKeyId = xmlText(xml, "AccessKeyId");
  const secretAccessKey = xmlText(xml, "SecretAccessKey");
  const sessionToken = xmlText(xml, "SessionToken");
  const expiration = xmlText(xml, "Expiration");
  if (!accessKeyId || !secretAccessKey || !sessionToken) {
    throw new CredentialsError("STS AssumeRoleWithWebIdentity answered without credentials");
  }
  const expiresAt = expiration ? Date.parse(expiration) : undefined;
  return { accessKeyId, secretAccessKey, sessionToken, expiresAt };
}

/** Web identity credentials, exchanged on first use and again before they expire. */
export function webIdentityProvider(o: WebIdentityOptions): CredentialProvider {
  let current: AwsCredentials | null = null;
  let pending: Promise<AwsCredentials> | null = null;
  const refreshBefore = o.refreshBeforeMs ?? 300_000;
  const doFetch = o.fetch ?? fetch;
  const exchange = async (): Promise<AwsCredentials> => {
    let token: string;
    try {
      // re-read each time: the kubelet rotates the projected token file
      token = (await Deno.readTextFile(o.tokenFile)).trim();
    } catch (e) {
      throw new CredentialsError(
        `cannot read AWS_WEB_IDENTITY_TOKEN_FILE ${o.tokenFile}: ${(e as Error).message}`,
      );
    }
    const res = await doFetch(webIdentityRequest(o, token));
    return parseWebIdentityResponse(res.status, await res.text());
  };
  return {
    source: `web-identity ${o.roleArn}`,
    get() {
      const fresh = current &&
        (current.expiresAt === undefined || current.expiresAt - refreshBefore > Date.now());
      if (fresh) return Promise.resolve(current!);
      pending ??= exchange().then((c) => (current = c)).finally(() => (pending = null));
      return pending;
    },
  };
}

/**
 * Picks the provider from the environment as the AWS CLI does: static keys first, then web
 * identity; throws CredentialsError naming the variables when neither is set.
 */
export function providerFromEnv(
  env: Record<string, string | undefined>,
  region: string,
): CredentialProvider {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return staticProvider({
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    });
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) {
    return webIdentityProvider({
      roleArn: env.AWS_ROLE_ARN,
      tokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE,
      sessionName: env.AWS_ROLE_SESSION_NAME || undefined,
      region,
      endpoint: env.AWS_ENDPOINT_URL_STS || undefined,
    });
  }
  throw new CredentialsError(
    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or " +
      "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN",
  );
}
