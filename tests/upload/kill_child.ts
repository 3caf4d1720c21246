/**
 * A podperf uploader process that dies (SIGKILL) at the worst moment: the store has confirmed
 * the upload (the verifying HEAD answered) but the local file is not deleted yet.
 * Args: output dir, s3rver endpoint.
 */
import { S3Client } from "../../lib/upload/s3_client.ts";
import { staticProvider } from "../../lib/upload/credentials.ts";
import { Uploader } from "../../lib/upload/uploader.ts";

const [dir, endpoint] = Deno.args;
let heads = 0;
const client = new S3Client({
  bucket: "podperf",
  region: "us-east-1",
  endpoint,
  credentials: staticProvider({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }),
  fetch: async (input, init) => {
    const res = await fetch(input, init);
    // HEAD 1 looks for an existing object, HEAD 2 confirms the upload: die right after it
    if (init?.method === "HEAD" && ++heads === 2) Deno.kill(Deno.pid, "SIGKILL");
    return res;
  },
});
const up = new Uploader({
  dir,
  location: { bucket: "podperf", prefix: "fleet" },
  client,
  node: "k",
});
await up.start();
await up.close(30_000);
