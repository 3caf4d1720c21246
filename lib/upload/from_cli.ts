/** `collect --upload s3://BUCKET/PREFIX`: an Uploader configured from the AWS_* environment. */
import { clientFromEnv, parseS3Url } from "./s3_client.ts";
import { Uploader } from "./uploader.ts";

/**
 * Builds the uploader of `collect --upload`. Tuning from the environment:
 * PODPERF_UPLOAD_CONCURRENCY (files at once, default 2), PODPERF_UPLOAD_PART_MIB (default 8).
 */
export function uploaderFor(
  url: string,
  dir: string,
  node: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Uploader {
  const location = parseS3Url(url);
  const client = clientFromEnv(location.bucket, env);
  const int = (v: string | undefined, d: number, min: number) => {
    const n = Number(v);
    return v && Number.isInteger(n) && n >= min ? n : d;
  };
  return new Uploader({
    dir,
    location,
    client,
    node,
    concurrency: int(env.PODPERF_UPLOAD_CONCURRENCY, 2, 1),
    partBytes: int(env.PODPERF_UPLOAD_PART_MIB, 8, 5) << 20,
  });
}
