/**
 * The uploader against a real S3 server (s3rver, its own process), checked by an independent
 * client (the AWS SDK) byte for byte.
 */
import assert from "@podperf/assert";
import { captureStderr } from "../helpers/stderr.ts";
import { GetObjectCommand, ListObjectsV2Command, S3Client as SdkClient } from "@aws-sdk/client-s3";
import { basename, join } from "node:path";
import { S3Client } from "../../lib/upload/s3_client.ts";
import { Uploader, type UploaderOptions } from "../../lib/upload/uploader.ts";
import { S3rver, S3RVER_KEY } from "../helpers/s3rver.ts";
import { writeNodeFiles } from "./fixtures.ts";

function sdk(server: S3rver): SdkClient {
  return new SdkClient({
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_KEY,
  });
}

async function listKeys(server: S3rver, prefix = ""): Promise<string[]> {
  const out = await sdk(server).send(
    new ListObjectsV2Command({ Bucket: "podperf", Prefix: prefix }),
  );
  return (out.Contents ?? []).map((c) => c.Key!).sort();
}

async function objectBytes(server: S3rver, key: string): Promise<Uint8Array> {
  const out = await sdk(server).send(new GetObjectCommand({ Bucket: "podperf", Key: key }));
  return await out.Body!.transformToByteArray();
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function uploader(server: S3rver, dir: string, extra: Partial<UploaderOptions> = {}) {
  return new Uploader({
    dir,
    location: { bucket: "podperf", prefix: "fleet" },
    client: server.client(),
    node: "fallback-node",
    retryBaseMs: 100,
    retryMaxMs: 500,
    ...extra,
  });
}

async function randomFile(path: string, bytes: number): Promise<Uint8Array> {
  const data = new Uint8Array(bytes);
  for (let off = 0; off < bytes; off += 65536) {
    crypto.getRandomValues(data.subarray(off, Math.min(off + 65536, bytes)));
  }
  await Deno.writeFile(path, data);
  return data;
}

const listDir = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/**
 * A test against its own s3rver and output directory, both gone afterwards. The SDK's and
 * s3rver's sockets outlive a test by design, so resources are not sanitized.
 */
function storeTest(
  name: string,
  fn: (server: S3rver, dir: string) => Promise<void>,
  opts: { sanitizeOps?: boolean } = {},
): void {
  Deno.test({
    name,
    sanitizeResources: false,
    ...opts,
    async fn() {
      const server = await S3rver.start();
      const dir = await Deno.makeTempDir();
      try {
        await fn(server, dir);
      } finally {
        await server.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

storeTest(
  "upload: rotated files land under Hive keys byte for byte and leave the disk",
  async (server, dir) => {
    const up = uploader(server, dir);
    await up.start();
    const files = await writeNodeFiles(dir, { node: "node-1", files: 3, rowsPerFile: 2000 });
    const copies = new Map<string, Uint8Array>();
    for (const f of files) {
      copies.set(basename(f.path), await Deno.readFile(f.path));
      up.enqueue(f.path); // as the writer's onFileClosed does
      assert.equal(up.keep(f.path), true, "not deletable by retention before upload");
    }
    assert.ok(await until(() => up.stats().queued === 0, 20_000), JSON.stringify(up.stats()));
    await up.close();
    const keys = await listKeys(server);
    assert.equal(keys.length, 3);
    for (const key of keys) {
      assert.match(
        key,
        /^fleet\/date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/node=node-1\/podperf-node-1-\d{8}T\d{6}\.\d{3}Z-\d{4}\.parquet$/,
      );
      assert.deepEqual(await objectBytes(server, key), copies.get(basename(key)));
    }
    assert.deepEqual(listDir(dir), [], "uploaded files are deleted locally");
    const s = up.stats();
    assert.equal(s.uploaded, 3);
    assert.equal(s.failed, 0);
    assert.equal(s.bytes, [...copies.values()].reduce((a, b) => a + b.length, 0));
    assert.match(up.renderMetrics(), /^podperf_upload_uploaded_files_total 3$/m);
    assert.match(up.renderMetrics(), /# TYPE podperf_upload_oldest_pending_age_seconds gauge/);
  },
);

storeTest(
  "upload: a file above the multipart threshold goes up in parts, verified",
  async (server, dir) => {
    const name = "podperf-big-20261129T101500.000Z-0000.parquet";
    const data = await randomFile(join(dir, name), 12 * 1024 * 1024 + 12345);
    const parts: string[] = [];
    const client = server.client({
      fetch: (input, init) => {
        const u = new URL(input instanceof Request ? input.url : String(input));
        if (u.searchParams.has("partNumber")) parts.push(u.searchParams.get("partNumber")!);
        return fetch(input, init);
      },
    });
    const up = uploader(server, dir, { client, partBytes: 5 << 20 });
    await up.start();
    assert.ok(await until(() => up.stats().queued === 0, 30_000), JSON.stringify(up.stats()));
    await up.close();
    assert.deepEqual(parts, ["1", "2", "3"]);
    const key = "fleet/date=2026-11-29/hour=10/node=big/" + name;
    assert.deepEqual(await listKeys(server), [key]);
    assert.deepEqual(await objectBytes(server, key), data);
    assert.deepEqual(listDir(dir), []);
  },
);

storeTest(
  "upload: the server killed mid-upload and restarted: nothing lost, nothing duplicated",
  async (server, dir) => {
    // named (so queued) before the small files, whose names carry their first slot's time
    const big = "podperf-n2-20200101T000000.000Z-0000.parquet";
    const bigData = await randomFile(join(dir, big), 16 * 1024 * 1024);
    const small = await writeNodeFiles(dir, { node: "n2", files: 2, rowsPerFile: 500 });
    const copies = new Map<string, Uint8Array>([[big, bigData]]);
    for (const f of small) copies.set(basename(f.path), await Deno.readFile(f.path));
    let killed = false;
    const client = server.client({
      timeoutMs: 5000,
      fetch: async (input, init) => {
        const u = new URL(input instanceof Request ? input.url : String(input));
        const res = await fetch(input, init);
        // the store dies right after it took the second part of the big file
        if (!killed && u.searchParams.get("partNumber") === "2") {
          killed = true;
          await server.kill();
        }
        return res;
      },
    });
    const up = uploader(server, dir, { client, partBytes: 5 << 20, concurrency: 1 });
    await up.start();
    assert.ok(
      await until(() => killed && up.stats().failed > 0, 30_000),
      "upload hit the outage",
    );
    assert.equal(listDir(dir).length, 3, "nothing deleted while the store is down");
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    assert.ok(await until(() => up.stats().queued === 0, 60_000), JSON.stringify(up.stats()));
    await up.close();
    const keys = await listKeys(server);
    assert.equal(keys.length, 3, keys.join(","));
    for (const key of keys) {
      assert.deepEqual(await objectBytes(server, key), copies.get(basename(key)));
    }
    assert.deepEqual(listDir(dir), []);
    assert.equal(up.stats().uploaded, 3);
  },
  { sanitizeOps: false },
);

storeTest(
  "upload: wrong credentials are one clear error line, files kept, retried until fixed",
  async (server, dir) => {
    await writeNodeFiles(dir, { node: "n3", files: 2, rowsPerFile: 300 });
    const key = { accessKeyId: "WRONG", secretAccessKey: "nope" };
    const client = new S3Client({
      bucket: "podperf",
      region: "us-east-1",
      endpoint: server.endpoint,
      credentials: { source: "test", get: () => Promise.resolve({ ...key }) },
    });
    const up = uploader(server, dir, { client });
    const stderr = await captureStderr(async () => {
      await up.start();
      assert.ok(await until(() => up.stats().failed >= 4, 20_000), JSON.stringify(up.stats()));
    });
    const lines = stderr.split("\n").filter((l) => l.includes("refused the credentials"));
    assert.equal(lines.length, 1, "one line, repeats throttled:\n" + stderr);
    assert.match(
      JSON.parse(lines[0]).msg,
      /the store refused the credentials \(\w+\); files are kept/,
    );
    assert.equal(listDir(dir).length, 2, "files kept");
    assert.equal(up.stats().uploaded, 0);
    assert.match(up.stats().lastError!, /403/);
    // the Secret is fixed: the next retry goes through
    Object.assign(key, S3RVER_KEY);
    assert.ok(await until(() => up.stats().queued === 0, 20_000), JSON.stringify(up.stats()));
    await up.close();
    assert.equal((await listKeys(server)).length, 2);
    assert.deepEqual(listDir(dir), []);
  },
);

storeTest(
  "upload: killed between upload and local delete: the restart deletes, sends nothing again",
  async (server, dir) => {
    const [f] = await writeNodeFiles(dir, { node: "n4", files: 1, rowsPerFile: 800 });
    const copy = await Deno.readFile(f.path);
    // a real process killed after the store confirmed the upload, before the local delete
    const killed = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./kill_child.ts", import.meta.url).pathname,
        dir,
        server.endpoint,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(killed.signal, "SIGKILL");
    assert.deepEqual(listDir(dir), [basename(f.path)], "the file is still on disk");
    assert.equal((await listKeys(server)).length, 1, "and already in the bucket");
    const requests: string[] = [];
    const client = server.client({
      fetch: (input, init) => {
        requests.push(init?.method ?? "GET");
        return fetch(input, init);
      },
    });
    const again = uploader(server, dir, { client });
    await again.start();
    assert.ok(await until(() => again.stats().queued === 0, 20_000));
    await again.close();
    assert.deepEqual(requests, ["HEAD"], "only the checksum check");
    assert.equal(again.stats().alreadyPresent, 1);
    assert.equal(again.stats().uploaded, 0);
    const keys = await listKeys(server);
    assert.equal(keys.length, 1);
    assert.deepEqual(await objectBytes(server, keys[0]), copy);
    assert.deepEqual(listDir(dir), []);
  },
);

storeTest(
  "upload: a file removed before upload (retention) is counted, temporaries are ignored",
  async (server, dir) => {
    await Deno.writeTextFile(join(dir, ".podperf-n5-20261129T120000.000Z-0001.parquet.tmp"), "x");
    const gone = join(dir, "podperf-n5-20261129T120000.000Z-0000.parquet");
    const up = uploader(server, dir);
    await server.kill(); // store down: the file waits
    await Deno.writeTextFile(gone, "PAR1");
    await up.start();
    assert.equal(up.stats().queued, 1, "the temporary is not queued");
    assert.ok(await until(() => up.stats().failed > 0, 10_000));
    assert.ok(up.stats().oldestPendingAgeS >= 0);
    await Deno.remove(gone); // retention dropped it during the outage
    await server.restart();
    assert.ok(await until(() => up.stats().queued === 0, 10_000));
    await up.close();
    assert.equal(up.stats().vanished, 1);
    assert.equal(up.keep(gone), false);
  },
);

storeTest(
  "upload: while the store is down one file probes it; the others wait",
  async (server, dir) => {
    await writeNodeFiles(dir, { node: "n6", files: 6, rowsPerFile: 100 });
    await server.kill();
    const up = uploader(server, dir, { retryBaseMs: 200, retryMaxMs: 200 });
    await up.start();
    await new Promise((r) => setTimeout(r, 1500));
    // six files each retrying every 100–200 ms would make ~50 attempts; probing makes ~10
    const failed = up.stats().failed;
    assert.ok(failed >= 3 && failed <= 20, `attempts during the outage: ${failed}`);
    assert.equal(up.stats().queued, 6);
    await server.restart();
    assert.ok(await until(() => up.stats().queued === 0, 20_000), JSON.stringify(up.stats()));
    await up.close();
    assert.equal((await listKeys(server)).length, 6);
  },
);
