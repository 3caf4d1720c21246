import assert from "@podperf/assert";
import { Uploader } from "../../lib/upload/uploader.ts";
import { S3Client } from "../../lib/upload/s3_client.ts";
import { staticProvider } from "../../lib/upload/credentials.ts";

const promtool = (() => {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "upload metrics pass promtool's exposition check and lint",
  // promtool comes from Debian's prometheus package (scripts/setup.sh, prom's test step)
  ignore: !promtool,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const up = new Uploader({
        dir,
        location: { bucket: "b", prefix: "" },
        client: new S3Client({
          bucket: "b",
          region: "us-east-1",
          endpoint: "http://127.0.0.1:9",
          credentials: staticProvider({ accessKeyId: "a", secretAccessKey: "b" }),
        }),
        node: "n",
      });
      const text = up.renderMetrics();
      assert.match(text, /^podperf_upload_queued_files 0$/m);
      const p = new Deno.Command("promtool", {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
      const out = await p.output();
      const msg = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, msg);
      assert.equal(msg.trim(), "", "no lint findings");
      await up.close(0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
