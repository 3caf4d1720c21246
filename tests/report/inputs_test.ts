import assert from "@podperf/assert";
import { join } from "node:path";
import { expandGlob, InputError, resolveInputs } from "../../lib/report/inputs.ts";
import { S3rver, S3RVER_KEY } from "../helpers/s3rver.ts";
import { S3Client } from "../../lib/upload/s3_client.ts";
import { staticProvider } from "../../lib/upload/credentials.ts";
import { summarizeInputs } from "../../lib/report/summarize_inputs.ts";
import { writeNodeFiles } from "../upload/fixtures.ts";

Deno.test("inputs: files, directories (recursive), globs, de-duplicated, temporaries skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "a/b"), { recursive: true });
    for (
      const p of [
        "a/x.parquet",
        "a/b/y.parquet",
        "a/b/.z.parquet.tmp",
        "a/notes.txt",
        "top.parquet",
      ]
    ) {
      await Deno.writeTextFile(join(dir, p), "PAR1");
    }
    const names = async (args: string[]) =>
      (await resolveInputs(args)).map((s) => s.name.slice(dir.length + 1));
    assert.deepEqual(await names([join(dir, "a")]), ["a/b/y.parquet", "a/x.parquet"]);
    assert.deepEqual(await names([join(dir, "a/x.parquet"), join(dir, "a")]), [
      "a/x.parquet",
      "a/b/y.parquet",
    ]);
    assert.deepEqual(await names([join(dir, "*.parquet")]), ["top.parquet"]);
    assert.deepEqual(
      await names([join(dir, "**/*.parquet")]),
      ["a/b/y.parquet", "a/x.parquet", "top.parquet"],
    );
    assert.deepEqual((await expandGlob(join(dir, "a/[bx]*"))).map((p) => p.slice(dir.length + 1)), [
      "a/x.parquet",
    ]);
    await assert.rejects(resolveInputs([join(dir, "nope.parquet")]), InputError);
    await assert.rejects(resolveInputs([join(dir, "*.csv")]), /no .parquet files in/);
    await Deno.mkdir(join(dir, "empty"));
    await assert.rejects(resolveInputs([join(dir, "empty")]), /no .parquet files in/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "inputs: s3://BUCKET/PREFIX is listed and read with ranged GETs, not downloaded whole",
  sanitizeResources: false,
  async fn() {
    const server = await S3rver.start();
    const dir = await Deno.makeTempDir();
    try {
      const files = await writeNodeFiles(dir, { node: "n1", files: 2, rowsPerFile: 3000 });
      const client = server.client();
      const { createHash } = await import("node:crypto");
      for (const f of files) {
        const body = await Deno.readFile(f.path);
        const name = f.path.slice(dir.length + 1);
        await client.put(`p/date=2026-11-29/hour=10/node=n1/${name}`, body, {
          md5Base64: createHash("md5").update(body).digest("base64"),
          sha256Hex: createHash("sha256").update(body).digest("hex"),
        });
      }
      await client.put("p/readme.txt", new Uint8Array(1), {
        md5Base64: createHash("md5").update(new Uint8Array(1)).digest("base64"),
        sha256Hex: createHash("sha256").update(new Uint8Array(1)).digest("hex"),
      });
      const sources = await resolveInputs(["s3://podperf/p"], { s3Client: () => client });
      assert.equal(sources.length, 2);
      assert.match(
        sources[0].name,
        /^s3:\/\/podperf\/p\/date=2026-11-29\/hour=10\/node=n1\/podperf-n1-/,
      );
      assert.equal(sources[0].size, (await Deno.stat(files[0].path)).size);
      const buf = await sources[0].open();
      const tail = new Uint8Array(await buf.slice(buf.byteLength - 4));
      assert.equal(new TextDecoder().decode(tail), "PAR1");
      // reading: the footer, then one ranged GET per row group (not one per column chunk)
      let gets = 0;
      const counting = new S3Client({
        bucket: "podperf",
        region: "us-east-1",
        endpoint: server.endpoint,
        credentials: staticProvider(S3RVER_KEY),
        fetch: (input, init) => {
          if ((init?.method ?? "GET") === "GET") gets++;
          return fetch(input, init);
        },
      });
      const counted = await resolveInputs(["s3://podperf/p"], { s3Client: () => counting });
      const listGets = gets;
      const s = await summarizeInputs(counted, { by: "pod" });
      assert.equal(s.rowsRead, 6000);
      assert.equal(s.counts.rowGroupsRead, 6);
      assert.equal(gets - listGets, 2 * (1 + 3));
      // a window ending before the partition's hour prunes it by path
      const early = BigInt(Date.parse("2026-11-29T09:40:00Z")) * 1_000_000n;
      await assert.rejects(
        resolveInputs(["s3://podperf/p"], { s3Client: () => client, toWallNs: early }),
        /no .parquet files in s3:\/\/podperf\/p/,
      );
      await assert.rejects(resolveInputs(["s3://Bad_Bucket/x"]), /not a valid S3 bucket name/);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
