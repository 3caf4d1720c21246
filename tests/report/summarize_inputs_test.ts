/**
 * Fleet reading: two nodes upload to a real S3 server; `podperf summary s3://…` (the CLI, its
 * own process) must give the per-pod and per-node totals DuckDB computes over the bucket's
 * tree mirrored by the AWS SDK and read with hive_partitioning.
 */
import assert from "@podperf/assert";
import { GetObjectCommand, ListObjectsV2Command, S3Client as SdkClient } from "@aws-sdk/client-s3";
import { dirname, join } from "node:path";
import { resolveInputs } from "../../lib/report/inputs.ts";
import { type ScanCounts, scanPodperf } from "../../lib/report/read_parquet.ts";
import { summarizeInputs } from "../../lib/report/summarize_inputs.ts";
import { Uploader } from "../../lib/upload/uploader.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import { S3rver, S3RVER_KEY } from "../helpers/s3rver.ts";
import { writeNodeFiles } from "../upload/fixtures.ts";

const MS = 1_000_000n;
const NOW = BigInt(Date.now()) * MS;

async function uploadAll(server: S3rver, dir: string): Promise<void> {
  const up = new Uploader({
    dir,
    location: { bucket: "podperf", prefix: "fleet" },
    client: server.client(),
    node: "x",
  });
  await up.start();
  await up.close(30_000);
  assert.equal(up.stats().queued, 0);
}

async function mirror(server: S3rver, to: string): Promise<number> {
  const sdk = new SdkClient({
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_KEY,
  });
  const list = await sdk.send(new ListObjectsV2Command({ Bucket: "podperf", Prefix: "fleet/" }));
  for (const o of list.Contents ?? []) {
    const got = await sdk.send(new GetObjectCommand({ Bucket: "podperf", Key: o.Key! }));
    const path = join(to, o.Key!);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, await got.Body!.transformToByteArray());
  }
  return list.Contents?.length ?? 0;
}

async function cliSummary(server: S3rver, args: string[]): Promise<Record<string, unknown>[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "summary",
      "--json",
      ...args,
    ],
    env: server.env(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  // the CLI's JSON document (README "JSON output"): the groups, snake_case
  return JSON.parse(new TextDecoder().decode(out.stdout)).groups;
}

const iso = (ns: bigint) => new Date(Number(ns / MS)).toISOString();

Deno.test({
  name: "fleet: summary s3:// per pod and per node equals DuckDB over the hive tree, in a window",
  sanitizeResources: false,
  async fn() {
    const server = await S3rver.start();
    const dirA = await Deno.makeTempDir(), dirB = await Deno.makeTempDir();
    const mirrorDir = await Deno.makeTempDir();
    try {
      // two nodes, each with its own monotonic clock and boot offset, overlapping in wall time
      const startA = 1_000_000_000_000n, startB = 7_000_000_000_000n;
      await writeNodeFiles(dirA, {
        node: "node-a",
        files: 3,
        rowsPerFile: 4000,
        rowGroupRows: 500,
        startMonoNs: startA,
        offsetNs: NOW - 1000n * MS - startA,
      });
      await writeNodeFiles(dirB, {
        node: "node-b",
        files: 2,
        rowsPerFile: 4000,
        rowGroupRows: 500,
        startMonoNs: startB,
        offsetNs: NOW - 1000n * MS - startB + 40n * MS,
        processes: 25,
      });
      await uploadAll(server, dirA);
      await uploadAll(server, dirB);
      assert.equal(await mirror(server, mirrorDir), 5);

      // wall window: from 120 ms to 230 ms after node a's first slot, ms-aligned
      const base = NOW - 1000n * MS;
      const from = base + 120n * MS, to = base + 230n * MS;
      const glob = sqlString(join(mirrorDir, "fleet/**/*.parquet"));
      const duck = await queryParquet(
        `SELECT pod_uid, sum(cpu_ns)::BIGINT AS cpu, sum(cycles)::BIGINT AS cyc,
           sum(instructions)::BIGINT AS ins, sum(llc_misses)::BIGINT AS llc, count(*) AS n
         FROM read_parquet('${glob}', hive_partitioning = true)
         WHERE epoch_ns(ts) >= ${from} AND epoch_ns(ts) < ${to} GROUP BY pod_uid`,
      );
      const ours = await cliSummary(server, [
        "--from",
        iso(from),
        "--to",
        iso(to),
        "s3://podperf/fleet",
      ]);
      const key = (uid: unknown) => String(uid ?? "(none)");
      const want = new Map(duck.map((r) => [key(r.pod_uid), r]));
      assert.equal(ours.length, want.size);
      assert.ok(ours.length >= 6);
      for (const g of ours) {
        const d = want.get(key(g.pod_uid))!;
        assert.ok(d, `pod ${g.pod_uid} unknown to DuckDB`);
        assert.equal(BigInt(g.cpu_ns as number), d.cpu, `cpu of ${g.pod_uid}`);
        assert.equal(BigInt(g.cycles as number), d.cyc);
        assert.equal(BigInt(g.instructions as number), d.ins);
        assert.equal(BigInt(g.llc_misses as number), d.llc);
        assert.equal(BigInt(g.rows as number), d.n);
      }

      // by node: the hive partition column names the node
      const duckNodes = await queryParquet(
        `SELECT node, sum(cpu_ns)::BIGINT AS cpu, count(*) AS n
         FROM read_parquet('${glob}', hive_partitioning = true) GROUP BY node ORDER BY node`,
      );
      const byNode = await cliSummary(server, ["--by", "node", "s3://podperf/fleet"]);
      assert.deepEqual(
        byNode.map((r) => [r.node, BigInt(r.cpu_ns as number), BigInt(r.rows as number)]).sort(),
        duckNodes.map((r) => [r.node, r.cpu, r.n]),
      );
      // the same files read locally give the same answer as from the bucket
      const local = await summarizeInputs(await resolveInputs([mirrorDir]), { by: "node" });
      assert.deepEqual(
        local.rows.map((r) => [r.node, r.cpuNs]).sort(),
        byNode.map((r) => [r.node, r.cpu_ns]).sort(),
      );
      assert.deepEqual(local.nodes, ["node-a", "node-b"]);
    } finally {
      await server.stop();
      for (const d of [dirA, dirB, mirrorDir]) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test("summary streams: one row group at a time, groups outside the window not read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const start = 2_000_000_000_000n;
    const offset = NOW - start;
    await writeNodeFiles(dir, {
      node: "n",
      files: 4,
      rowsPerFile: 5000,
      rowGroupRows: 400,
      startMonoNs: start,
      offsetNs: offset,
    });
    const sources = await resolveInputs([dir]);
    let batches = 0, biggest = 0;
    const counts: ScanCounts = { rowGroupsRead: 0, rowGroupsSkipped: 0 };
    for (const s of sources) {
      for await (const b of scanPodperf(s, {}, counts)) {
        batches++;
        biggest = Math.max(biggest, b.length);
      }
    }
    assert.equal(batches, 4 * Math.ceil(5000 / 400));
    assert.equal(biggest, 400, "no batch is bigger than a row group");
    // 500 slots of 1 ms in all (40 processes per slot); a 100 ms window reads ~1/5 of them
    const from = NOW + 200n * MS, to = NOW + 300n * MS;
    const s = await summarizeInputs(sources, { by: "pod", fromWallNs: from, toWallNs: to });
    assert.equal(s.rowsInWindow, 100 * 40);
    assert.ok(s.counts.rowGroupsSkipped > 30, JSON.stringify(s.counts));
    assert.ok(s.counts.rowGroupsRead <= 12, JSON.stringify(s.counts));
    const all = await summarizeInputs(sources, { by: "pod" });
    assert.equal(all.rowsRead, 20_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summary DIR reads the directory instead of failing with 'Is a directory'", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeNodeFiles(dir, { node: "n", files: 2, rowsPerFile: 100 });
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../main.ts", import.meta.url).pathname,
        "summary",
        "--json",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const rows = JSON.parse(new TextDecoder().decode(out.stdout)).groups;
    assert.equal(rows.reduce((a: number, r: { rows: number }) => a + r.rows, 0), 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
