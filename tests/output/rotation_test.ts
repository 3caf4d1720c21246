import assert from "@podperf/assert";
import { join } from "node:path";
import { OutputWriteError } from "../../lib/output/errors.ts";
import { type ClosedFileInfo, ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import { fileName, RotatingParquetWriter, SLOW_PUBLISH_MS } from "../../lib/output/rotation.ts";
import { queryParquet } from "../helpers/duckdb.ts";
import { captureStderr } from "../helpers/stderr.ts";
import { CONFIG, row } from "./fixtures.ts";

const DENO = Deno.execPath();

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

async function rowsIn(path: string): Promise<number> {
  const [{ n }] = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${path}')`);
  return Number(n);
}

Deno.test("file names are <prefix>-<UTC time>-<seq>.parquet and sort by time", () => {
  const t = Date.UTC(2024, 4, 1, 12, 0, 0, 123);
  assert.equal(fileName("podperf-n1", t, 7), "podperf-n1-20240501T120000.123Z-0007.parquet");
  assert.ok(fileName("p", t, 1) < fileName("p", t + 1, 0));
});

Deno.test("rotates by size: several readable files holding every row, no tmp left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const closed: ClosedFileInfo[] = [];
    const out = new RotatingParquetWriter({
      dir,
      prefix: "podperf-node-a",
      maxBytes: 20_000,
      maxAgeMs: 3_600_000,
      rowGroupRows: 200,
      metadata: CONFIG,
      onFileClosed: (f) => closed.push(f),
    });
    out.appendMany(Array.from({ length: 3000 }, (_, i) => row(i)));
    // before close, rowsWritten counts completed files only
    const before = closed.reduce((a, f) => a + f.rows, 0);
    assert.equal(out.rowsWritten, before);
    assert.equal(out.rowsWritten + out.rowsPending, 3000);
    await out.close();
    assert.equal(out.rowsWritten, 3000);
    assert.equal(out.rowsLost, 0);

    const names = listDir(dir);
    assert.ok(names.length >= 3, `expected ≥ 3 files, got ${names}`);
    assert.equal(out.filesWritten, names.length);
    assert.ok(names.every((n) => /^podperf-node-a-\d{8}T\d{6}\.\d{3}Z-\d{4}\.parquet$/.test(n)));
    assert.deepEqual(closed.map((f) => f.path).sort(), names.map((n) => join(dir, n)));
    let total = 0;
    for (const f of closed) {
      const n = await rowsIn(f.path);
      assert.equal(n, f.rows);
      assert.equal(f.bytes, (await Deno.stat(f.path)).size);
      total += n;
    }
    assert.equal(total, 3000);
    // every row appears once, in order across files
    const [{ d, lo, hi }] = await queryParquet(
      `SELECT count(DISTINCT mono_ns) AS d, min(mono_ns) AS lo, max(mono_ns) AS hi
         FROM read_parquet('${dir}/*.parquet')`,
    );
    assert.deepEqual([d, lo, hi], [3000n, row(0).monoNs, row(2999).monoNs]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file published long after its footer was written is logged with its wait", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = 0;
    const out = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 1000,
      metadata: CONFIG,
      monoNowMs: () => now,
    });
    const text = await captureStderr(async () => {
      out.append(row(0));
      now = 1000;
      out.rotateIfDue(); // footer written now; the fsync is awaited from here
      now += SLOW_PUBLISH_MS - 1; // published just in time
      await out.settled();
      out.append(row(1));
      now += 1000;
      out.rotateIfDue();
      now += SLOW_PUBLISH_MS; // this one's publication comes that late
      await out.close();
    });
    const lines = text.split("\n").filter((l) => l.includes("waited for its fsync"));
    assert.equal(lines.length, 1, text);
    const line = JSON.parse(lines[0]);
    assert.equal(line.level, "warn");
    assert.equal(line.waitedMs, SLOW_PUBLISH_MS);
    assert.equal(line.path, join(dir, listDir(dir).filter((n) => n.endsWith(".parquet"))[1]));
    assert.equal(out.filesWritten, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rotates by age on append and on rotateIfDue", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 100,
      metadata: CONFIG,
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    out.appendMany([row(0), row(1)]);
    out.rotateIfDue();
    assert.equal(out.filesWritten, 0, "a young file must not rotate");
    await sleep(150);
    out.append(row(2)); // goes into the old file, which is then completed
    assert.equal(out.filesFinishing, 1, "published once its fsync is done");
    await out.settled();
    assert.equal(out.filesWritten, 1);
    assert.equal(out.rowsWritten, 3);
    out.append(row(3)); // starts the second file
    await sleep(150);
    out.rotateIfDue(); // an idle writer completes it without another append
    await out.settled();
    assert.equal(out.filesWritten, 2);
    assert.equal(out.rowsWritten, 4);
    await out.close(); // nothing open: no empty file
    const names = listDir(dir);
    assert.equal(names.length, 2);
    assert.deepEqual(await Promise.all(names.map((n) => rowsIn(join(dir, n)))), [3, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a row group is written once its oldest rows are rowGroupAgeMs old: a crash on a quiet node loses no more", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = 0;
    const out = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      rowGroupAgeMs: 30_000,
      metadata: CONFIG,
      monoNowMs: () => now,
    });
    out.appendMany(Array.from({ length: 10 }, (_, i) => row(i)));
    now = 29_000;
    out.rotateIfDue();
    now = 29_500;
    out.appendMany(Array.from({ length: 5 }, (_, i) => row(10 + i))); // the same young group
    now = 30_000;
    out.rotateIfDue(); // 30 s since the group's first rows: written, 15 rows
    now = 31_000;
    out.appendMany(Array.from({ length: 7 }, (_, i) => row(15 + i))); // a new group
    now = 60_000;
    out.rotateIfDue(); // 29 s old: still buffered
    // the process dies (SIGKILL): its lock goes with it, the file is left for salvage
    out.abandon();
    const lock = listDir(dir).find((n) => n.endsWith(".lock"))!;
    Deno.removeSync(join(dir, lock));
    Deno.writeTextFileSync(join(dir, lock), "");
    const closed: ClosedFileInfo[] = [];
    const next = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      metadata: CONFIG,
      onFileClosed: (f) => closed.push(f),
    });
    await next.close();
    assert.equal(closed.length, 1);
    assert.equal(closed[0].salvaged, "writer-died");
    assert.equal(
      closed[0].rows,
      15,
      "the group that reached its age is on disk, the young one not",
    );
    assert.equal(await rowsIn(closed[0].path), 15);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up salvages a dead writer's file, leaves a live writer's alone, never follows a symlink", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const prefix = "p";
    // a live writer: holds its lock, has a temporary file with rows
    const live = new RotatingParquetWriter({
      dir,
      prefix,
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      rowGroupRows: 100,
      metadata: CONFIG,
    });
    live.appendMany(Array.from({ length: 250 }, (_, i) => row(i)));
    const liveTmp = listDir(dir).filter((n) => n.endsWith(".tmp"));
    assert.equal(liveTmp.length, 1);
    // a dead writer: unlocked lock file, a temporary file with 2 recorded row groups + 50 rows
    const dead = "dead0001";
    await Deno.writeTextFile(join(dir, `.${prefix}.${dead}.lock`), "");
    const w = new ParquetFileWriter({
      path: join(dir, fileName(prefix, Date.UTC(2024, 0, 1), 0)),
      config: CONFIG,
      owner: dead,
      rowGroupRows: 100,
    });
    for (let i = 0; i < 250; i++) w.append(row(1000 + i));
    w.abandon();
    // a symlink under a dead writer's temporary name, pointing at a file that must survive
    const victim = join(dir, "victim.txt");
    await Deno.writeTextFile(victim, "precious");
    await Deno.symlink(
      victim,
      join(dir, `.${fileName(prefix, Date.UTC(2024, 0, 2), 0)}.${dead}.tmp`),
    );
    // another node's live file whose prefix extends ours, and a pre-owner-tag temporary file
    const other = ".p-gpu-20240101T000000.000Z-0000.parquet.tmp";
    await Deno.writeTextFile(join(dir, other), "PAR1");
    const legacy = ".p-20240101T000000.000Z-0009.parquet.tmp";
    await Deno.writeTextFile(join(dir, legacy), "PAR1");

    const closed: ClosedFileInfo[] = [];
    const next = new RotatingParquetWriter({
      dir,
      prefix,
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      metadata: CONFIG,
      onFileClosed: (f) => closed.push(f),
    });
    assert.equal(closed.length, 1);
    assert.equal(closed[0].rows, 200, "the two recorded row groups");
    assert.equal(closed[0].salvaged, "writer-died");
    assert.equal(await rowsIn(closed[0].path), 200);
    const [kv] = await queryParquet(
      `SELECT decode(value) AS v FROM parquet_kv_metadata('${closed[0].path}')
       WHERE decode(key) = 'podperf.salvaged'`,
    );
    assert.equal(kv.v, "writer-died");
    assert.equal(await Deno.readTextFile(victim), "precious");
    const names = listDir(dir);
    assert.ok(liveTmp.every((n) => names.includes(n)), "the live writer's file is untouched");
    assert.ok(names.includes(other) && names.includes(legacy));
    assert.ok(!names.some((n) => n.includes(dead)), `${names}`);
    // both writers go on and finish: every row of each is in a complete file
    live.appendMany(Array.from({ length: 10 }, (_, i) => row(250 + i)));
    next.appendMany(Array.from({ length: 10 }, (_, i) => row(5000 + i)));
    await live.close();
    await next.close();
    assert.equal(live.rowsWritten, 260);
    assert.equal(next.rowsWritten, 10, "salvaged rows are not this writer's");
    assert.equal(next.rowsSalvaged, 200);
    let total = 0;
    for (const n of listDir(dir).filter((n) => n.endsWith(".parquet"))) {
      total += await rowsIn(join(dir, n));
    }
    assert.equal(total, 260 + 210);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM mid-stream: close() leaves complete files with exactly the rows reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", new URL("./stream_fixture.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("streaming\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGTERM");
    for (let r = await lines.read(); !r.done; r = await lines.read()) text += r.value;
    const status = await child.status;
    assert.equal(status.code, 0);
    const report = JSON.parse(text.trim().split("\n").at(-1)!);
    // one file completed before SIGTERM, the one being written was completed by close()
    assert.ok(report.files >= 2, `files: ${report.files}`);
    assert.equal(report.written, report.appended, "close() must complete every appended row");

    const names = listDir(dir);
    assert.ok(names.every((n) => n.endsWith(".parquet") && !n.startsWith(".")), `${names}`);
    assert.equal(names.length, report.files);
    let total = 0;
    for (const n of names) total += await rowsIn(join(dir, n));
    assert.equal(total, report.written);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk full: typed ENOSPC error, the failed file finished or left for salvage, every row accounted", async () => {
  const dir = await Deno.makeTempDir();
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    const closed: ClosedFileInfo[] = [];
    const out = new RotatingParquetWriter({
      dir,
      prefix: "podperf-node-a",
      maxBytes: 60_000,
      maxAgeMs: 3_600_000,
      rowGroupRows: 1000,
      metadata: CONFIG,
      onFileClosed: (f) => closed.push(f),
    });
    // rows with little redundancy so the 256 KiB fill quickly
    const noisy = (i: number) =>
      row(i, {
        cgroupId: BigInt(i) * 2654435761n,
        comm: `c${(i * 7919) % 100_003}`,
        cpuNs: i * 31,
      });
    // batches of 1000 like the collector's: the rows after the failing one count as lost too
    let appended = 0;
    let error: unknown;
    try {
      while (appended < 5_000_000) {
        out.appendMany(Array.from({ length: 1000 }, (_, k) => noisy(appended + k)));
        appended += 1000;
      }
    } catch (err) {
      appended += 1000;
      error = err;
    }
    assert.ok(error instanceof OutputWriteError, `expected OutputWriteError, got ${error}`);
    assert.equal(error.code, "ENOSPC");
    assert.ok(error.path.startsWith(dir), error.path);
    assert.match(error.message, /no space left on device/);
    assert.ok(!error.message.includes("\n"), "one-line message");
    assert.ok(error.rowsLost > 0);
    await out.close();
    assert.equal(out.rowsWritten + out.rowsLost, appended);

    const names = listDir(dir);
    const complete = names.filter((n) => n.endsWith(".parquet"));
    assert.ok(complete.length >= 1, "files completed before the disk filled stay");
    let total = 0;
    for (const n of complete) total += await rowsIn(join(dir, n));
    assert.equal(total, out.rowsWritten);
    assert.equal(closed.reduce((a, f) => a + f.rows, 0), out.rowsWritten);
    // a file that could not even be finished stays with its sidecar; with space back, the
    // next start finishes it
    const left = names.filter((n) => n.endsWith(".tmp"));
    await Deno.remove(join(dir, complete[0]));
    const next = new RotatingParquetWriter({
      dir,
      prefix: "podperf-node-a",
      maxBytes: 60_000,
      maxAgeMs: 3_600_000,
      metadata: CONFIG,
    });
    await next.close();
    assert.equal(next.salvaged.length, left.length);
    for (const f of next.salvaged) assert.equal(await rowsIn(f.path), f.rows);
    assert.deepEqual(listDir(dir).filter((n) => n.startsWith(".")), []);
    console.log(
      `disk full: ${appended} appended, ${out.rowsWritten} written, ${out.rowsLost} lost, ` +
        `${next.salvaged.reduce((a, f) => a + f.rows, 0)} salvaged at the next start`,
    );
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file age is measured on the monotonic clock: a wall-clock step does not rotate", async () => {
  const dir = await Deno.makeTempDir();
  const realNow = Date.now;
  try {
    const out = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 60_000,
      metadata: CONFIG,
    });
    out.append(row(0));
    // the wall clock jumps an hour (NTP at boot): the file is seconds old, not an hour
    Date.now = () => realNow() + 3_600_000;
    out.append(row(1));
    out.rotateIfDue();
    assert.equal(out.filesWritten, 0);
    Date.now = realNow;
    await out.close();
    assert.equal(out.filesWritten, 1);
    assert.equal(out.rowsWritten, 2);
  } finally {
    Date.now = realNow;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk full in the middle of a batch: every row counted once, written or lost", async () => {
  const dir = await Deno.makeTempDir();
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=128k", "tmpfs", dir],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    // one growing file (no size rotation): the failure hits a row group flush inside a batch
    const out = new RotatingParquetWriter({
      dir,
      prefix: "p",
      maxBytes: 1 << 30,
      maxAgeMs: 3_600_000,
      rowGroupRows: 1000,
      metadata: CONFIG,
    });
    const noisy = (i: number) =>
      row(i, {
        cgroupId: BigInt(i) * 2654435761n,
        comm: `c${(i * 7919) % 100_003}`,
        cpuNs: i * 31,
      });
    let appended = 0, failures = 0;
    while (appended < 200_000 && failures < 3) {
      const batch = Array.from({ length: 1500 }, (_, k) => noisy(appended + k));
      appended += batch.length;
      try {
        out.appendMany(batch);
      } catch (err) {
        assert.ok(err instanceof OutputWriteError, String(err));
        failures++;
      }
    }
    assert.ok(failures > 0, "the disk filled");
    await out.close().catch(() => {});
    assert.equal(out.rowsWritten + out.rowsLost, appended);
    let total = 0;
    for (const n of listDir(dir).filter((n) => n.endsWith(".parquet"))) {
      total += await rowsIn(join(dir, n));
    }
    assert.equal(total, out.rowsWritten);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});
