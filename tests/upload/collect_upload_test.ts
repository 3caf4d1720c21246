/**
 * `podperf collect --upload` end to end: the real sampler, the real writer and a real S3
 * server; every completed file (and one left by an earlier run) ends up in the bucket and
 * leaves the node's disk, and summary over the bucket sees every row collect wrote.
 */
import assert from "@podperf/assert";
import { S3rver } from "../helpers/s3rver.ts";
import { writeNodeFiles } from "./fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "collect --upload: rotated files and leftovers go to the bucket, the disk empties",
  sanitizeResources: false,
  async fn() {
    const server = await S3rver.start();
    const dir = await Deno.makeTempDir();
    try {
      const [left] = await writeNodeFiles(dir, { node: "e2e", files: 1, rowsPerFile: 123 });
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}main.ts`,
          "collect",
          "--duration=3s",
          "--rotate-age=1s",
          "--no-nri",
          "--node=e2e",
          `--output=${dir}`,
          "--upload=s3://podperf/fleet",
          "--json",
        ],
        cwd: ROOT,
        env: server.env(),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const confirmed = stderr.split("\n").filter((l) => l.includes("file confirmed in the store"));
      const closed = stderr.split("\n").filter((l) => l.includes("parquet file complete"));
      assert.ok(closed.length >= 2, `rotation every second: ${closed.length} files`);
      assert.equal(confirmed.length, closed.length + 1, "every file and the leftover");
      const written = closed.reduce((a, l) => a + JSON.parse(l).rows, 0);
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".parquet")),
        [],
        "nothing left on disk",
      );
      const keys: string[] = [];
      for await (const o of server.client().listAll("fleet/")) keys.push(o.key);
      assert.equal(keys.length, closed.length + 1);
      for (const k of keys) {
        assert.match(k, /^fleet\/date=[\d-]+\/hour=\d\d\/node=e2e\/podperf-e2e-/);
      }
      const sum = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}main.ts`,
          "summary",
          "--json",
          "--by",
          "node",
          "s3://podperf/fleet",
        ],
        env: server.env(),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(sum.code, 0, new TextDecoder().decode(sum.stderr));
      const [node] = JSON.parse(new TextDecoder().decode(sum.stdout)).groups;
      assert.equal(node.node, "e2e");
      assert.equal(node.rows, written + left.rows);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
