import assert from "@podperf/assert";
import { join } from "node:path";
import type { ClosedFileInfo } from "../../lib/output/parquet_writer.ts";
import { ParquetSink, type ParquetSinkOptions } from "../../lib/output/parquet_sink.ts";
import { queryParquet } from "../helpers/duckdb.ts";
import { slowDisk } from "../helpers/slow_disk.ts";
import { CONFIG, row } from "./fixtures.ts";

function rows(from: number, n: number) {
  return Array.from({ length: n }, (_, k) => row(from + k));
}

async function countRows(glob: string): Promise<number> {
  const [{ n }] = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${glob}')`);
  return Number(n);
}

function options(dir: string, extra: Partial<ParquetSinkOptions> = {}): ParquetSinkOptions {
  return {
    dir,
    prefix: "podperf-node-a",
    maxBytes: 1 << 30,
    maxAgeMs: 3_600_000,
    metadata: CONFIG,
    wallOffsetNs: () => CONFIG.monoToWallOffsetNs,
    ...extra,
  };
}

/**
 * Runs sink_fixture.ts with `args`, reads its stats lines until `until` holds (or `timeoutMs`
 * passes, or it exits), SIGKILLs it and returns the last stats it printed.
 */
async function killFixtureWhen(
  args: string[],
  until: (stats: Record<string, number>) => boolean,
  timeoutMs = Infinity,
): Promise<Record<string, number>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./sink_fixture.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "", stats: Record<string, number> = {};
  const deadline = performance.now() + timeoutMs;
  while (!until(stats) && performance.now() < deadline) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
    const all = text.trim().split("\n");
    if (text.endsWith("\n")) stats = JSON.parse(all.at(-1)!);
  }
  child.kill("SIGKILL");
  await child.status;
  await lines.cancel();
  return stats;
}

/** Opens a sink on `dir` whose closed files are collected in `files`. */
async function openSink(dir: string, extra: Partial<ParquetSinkOptions> = {}) {
  const files: ClosedFileInfo[] = [];
  const sink = await ParquetSink.open(
    options(dir, { ...extra, onFileClosed: (f) => files.push(f) }),
  );
  return { sink, files };
}

Deno.test("rows appended reach DuckDB through the Worker, with extra metadata and onFileClosed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let calls = 0;
    const { sink, files } = await openSink(dir, {
      maxBytes: 40_000,
      rowGroupRows: 1000,
      extraMetadata: () => ({ "podperf.agent.lost": String(++calls) }),
    });
    for (let i = 0; i < 20; i++) sink.append(rows(i * 1000, 1000));
    await sink.close();
    const s = sink.stats();
    assert.equal(s.rowsAppended, 20_000);
    assert.equal(s.rowsWritten, 20_000);
    assert.equal(s.rowsDropped + s.rowsLost + s.rowsQueued, 0);
    assert.ok(files.length >= 2, `files: ${files.length}`);
    assert.equal(s.files, files.length);
    assert.equal(files.reduce((a, f) => a + f.rows, 0), 20_000);
    assert.equal(await countRows(join(dir, "*.parquet")), 20_000);
    // evaluated as rows are handed over: each file carries the value current when it was finished
    const seen: number[] = [];
    for (const f of files) {
      const kv = await queryParquet(
        `SELECT decode(value) AS v FROM parquet_kv_metadata('${f.path}')
         WHERE decode(key) = 'podperf.agent.lost'`,
      );
      assert.equal(kv.length, 1, f.path);
      seen.push(Number(kv[0].v));
    }
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    // the last file took the value read with the last rows or at close
    assert.ok(seen.at(-1)! >= calls - 1 && seen.at(-1)! <= calls, `${seen} of ${calls}`);
    // ts = mono_ns + the measured offset, as the file's metadata says
    const [t] = await queryParquet(
      `SELECT count(*) FILTER (WHERE epoch_ns(ts) <> mono_ns + ${CONFIG.monoToWallOffsetNs}) AS bad
       FROM read_parquet('${join(dir, "*.parquet")}')`,
    );
    assert.equal(t.bad, 0n);
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the Worker publishes its V8 heap with its progress (for /metrics: no other counter sees it)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { sink } = await openSink(dir, { postIntervalMs: 100 });
    assert.equal(sink.stats().writerHeap.committedBytes, 0, "nothing before the first batch");
    sink.append(rows(0, 5_000));
    const until = performance.now() + 10_000;
    while (sink.stats().rowsQueued > 0) {
      assert.ok(performance.now() < until, "the Worker took no batch within 10 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    const h = sink.stats().writerHeap;
    // an isolate with the encoder loaded: megabytes, its used part within what it holds
    assert.ok(h.committedBytes > 1 << 20, `committed ${h.committedBytes}`);
    assert.ok(h.usedBytes > 0 && h.usedBytes <= h.committedBytes, `used ${h.usedBytes}`);
    assert.ok(h.externalBytes > 0, `external ${h.externalBytes}`);
    await sink.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stalled writer never blocks append: the overflow is dropped and counted, the rest written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await ParquetSink.open(
      options(dir, { maxQueuedRows: 5000, rowGroupRows: 1000, postIntervalMs: 10 }),
    );
    sink.stallForTest(1500);
    let appended = 0, slowest = 0;
    const until = performance.now() + 1000;
    while (performance.now() < until) {
      const t = performance.now();
      sink.append(rows(appended, 500));
      slowest = Math.max(slowest, performance.now() - t);
      appended += 500;
      await new Promise((r) => setTimeout(r, 10));
    }
    const during = sink.stats();
    assert.ok(during.rowsQueued <= 5000, `queued ${during.rowsQueued}`);
    assert.ok(during.rowsDropped > 0, "the bounded queue must overflow during the stall");
    assert.ok(during.queueDepth > 0);
    // appending inline would take the whole 1.5 s stall
    assert.ok(slowest < 750, `append took ${slowest.toFixed(1)} ms while the writer stalled`);
    await sink.close();
    const s = sink.stats();
    assert.equal(s.rowsWritten + s.rowsDropped, appended);
    assert.equal(s.rowsLost, 0);
    assert.equal(await countRows(join(dir, "*.parquet")), s.rowsWritten);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a finished file waiting seconds for its fsync does not hold the Worker: later rows are taken meanwhile", async () => {
  // writeback at 32 KiB/s: the first file's fsync takes seconds, as under a 64-task storm
  const disk = await slowDisk(32 << 10);
  if ("unsupported" in disk) {
    console.log(`not run here: ${disk.unsupported}`);
    return;
  }
  try {
    const { sink, files } = await openSink(disk.dir, {
      maxBytes: 64 << 10,
      rowGroupRows: 1000,
      postIntervalMs: 10,
    });
    // rows that compress poorly, so the first file passes maxBytes within a few batches
    const noisy = (from: number, n: number) =>
      Array.from({ length: n }, (_, k) =>
        row(from + k, {
          cgroupId: BigInt(from + k) * 2654435761n,
          comm: `c${((from + k) * 7919) % 100_003}`,
          cpuNs: (from + k) * 31,
        }));
    let appended = 0;
    while (sink.stats().bytesOnDisk < 64 << 10 && appended < 200_000) {
      sink.append(noisy(appended, 1000));
      appended += 1000;
      await new Promise((r) => setTimeout(r, 20));
    }
    // the file is finished by now or by the next batch; more rows keep coming
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) {
      sink.append(noisy(appended, 1000));
      appended += 1000;
      await new Promise((r) => setTimeout(r, 20));
    }
    while (sink.stats().rowsQueued > 0 && performance.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const caughtUpMs = performance.now() - t0;
    const published = files.length;
    // the Worker took every row while no file had been published yet: the fsync was still
    // waiting, and the Worker was not (it waited in it before: the queue stood still)
    assert.equal(
      published,
      0,
      `a file was published before the Worker caught up (${caughtUpMs} ms)`,
    );
    assert.ok(caughtUpMs < 3000, `the Worker took ${caughtUpMs.toFixed(0)} ms to take the rows`);
    // what /metrics shows of it (podperf_structure_entries{structure="writer_files_syncing"})
    assert.ok(sink.stats().filesSyncing >= 1, `filesSyncing ${sink.stats().filesSyncing}`);
    disk.unthrottle();
    await sink.close();
    const s = sink.stats();
    assert.equal(s.rowsWritten, appended);
    assert.equal(s.rowsDropped + s.rowsLost, 0);
    assert.ok(files.length >= 2, `files: ${files.length}`);
    assert.equal(await countRows(join(disk.dir, "*.parquet")), appended);
    assert.deepEqual([...Deno.readDirSync(disk.dir)].filter((e) => e.name.startsWith(".")), []);
  } finally {
    await disk.remove();
  }
});

Deno.test("close() returns within its deadline when the Worker is stuck, leaving the file for salvage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await ParquetSink.open(
      options(dir, { rowGroupRows: 1000, closeTimeoutMs: 500 }),
    );
    sink.append(rows(0, 3500)); // 3 row groups on disk, 500 rows buffered
    while (sink.stats().rowsQueued > 0) await new Promise((r) => setTimeout(r, 10));
    sink.stallForTest(20_000);
    sink.append(rows(3500, 100));
    const t = performance.now();
    await sink.close();
    const took = performance.now() - t;
    assert.ok(took < 2000, `close took ${took.toFixed(0)} ms`);
    const s = sink.stats();
    assert.equal(s.healthy, false);
    assert.equal(s.rowsWritten, 0);
    assert.equal(s.rowsLost, 3600);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(names.filter((n) => n.endsWith(".tmp")).length, 1, `${names}`);
    assert.equal(names.filter((n) => n.endsWith(".rowgroups")).length, 1, `${names}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGKILL mid-run loses at most the row group being built: the next start salvages the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stats = await killFixtureWhen([dir], (s) => s.rowsAppended >= 5500);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.some((n) => n.endsWith(".tmp")), `${names}`);

    const salvaged: ClosedFileInfo[] = [];
    const next = await ParquetSink.open(options(dir, { onFileClosed: (f) => salvaged.push(f) }));
    await next.close();
    assert.equal(salvaged.length, 1);
    assert.equal(salvaged[0].salvaged, "writer-died");
    assert.equal(next.stats().filesSalvaged, 1);
    assert.equal(next.stats().rowsSalvaged, salvaged[0].rows);
    assert.equal(next.stats().rowsWritten, 0);
    const got = await countRows(join(dir, "*.parquet"));
    assert.equal(got, salvaged[0].rows);
    // every whole row group the killed writer had recorded is back; what is lost is less than
    // one row group plus the queue (rows appended after the last stats line are not counted)
    assert.ok(got >= 5000, `salvaged ${got} of ≥ ${stats.rowsAppended} appended`);
    assert.equal(got % 1000, 0, "whole row groups only");
    const [{ n }] = await queryParquet(
      `SELECT count(DISTINCT mono_ns) AS n FROM read_parquet('${salvaged[0].path}')`,
    );
    assert.equal(Number(n), got, "rows are the first ones appended, none twice");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(".")),
      [],
    );
    console.log(`SIGKILL: ${stats.rowsAppended}+ appended, ${got} salvaged`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGKILL while finished files wait for their fsync: the next start salvages them, at most a row group lost", async () => {
  const disk = await slowDisk(32 << 10);
  if ("unsupported" in disk) {
    console.log(`not run here: ${disk.unsupported}`);
    return;
  }
  try {
    // files of 16 KiB: several finish, each footer written and its fsync held by the throttle
    const stats = await killFixtureWhen(
      [disk.dir, "250", String(16 << 10)],
      (s) => s.filesSyncing >= 2,
      20_000,
    );
    assert.ok(stats.filesSyncing >= 2, `files waiting for their fsync: ${stats.filesSyncing}`);
    disk.unthrottle();

    const salvaged: ClosedFileInfo[] = [];
    const next = await ParquetSink.open(
      options(disk.dir, { onFileClosed: (f) => salvaged.push(f) }),
    );
    await next.close();
    // the files that waited finished from their sidecars (and the one being written, when it
    // had a row group on disk)
    assert.ok(salvaged.length >= 2, `salvaged ${salvaged.length} files`);
    for (const f of salvaged) assert.equal(f.salvaged, "writer-died");
    const total = await countRows(join(disk.dir, "*.parquet"));
    // every row the killed Worker had taken (published, waiting, or being written), less at
    // most the row group it was building
    const known = stats.rowsAppended - stats.rowsQueued - stats.rowsDropped;
    assert.ok(total >= known - 1000, `${total} rows on disk, ${known} known at the kill`);
    const [{ n }] = await queryParquet(
      `SELECT count(DISTINCT mono_ns) AS n FROM read_parquet('${join(disk.dir, "*.parquet")}')`,
    );
    assert.equal(Number(n), total, "no row twice");
    assert.deepEqual(
      [...Deno.readDirSync(disk.dir)].map((e) => e.name).filter((n) => n.startsWith(".")),
      [],
    );
  } finally {
    await disk.remove();
  }
});

Deno.test("the clock offset is re-measured: a wall-clock step starts a new file with its own offset", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const before = CONFIG.monoToWallOffsetNs;
    const after = before + 3_600_000_000_000n; // NTP steps the wall clock 1 h forward
    let offset = before;
    const { sink, files } = await openSink(dir, { wallOffsetNs: () => offset });
    sink.append(rows(0, 100));
    sink.append(rows(100, 100));
    offset = after;
    sink.append(rows(200, 100));
    await sink.close();
    assert.equal(files.length, 2);
    const meta = async (path: string) => {
      const [{ v }] = await queryParquet(
        `SELECT decode(value) AS v FROM parquet_kv_metadata('${path}')
         WHERE decode(key) = 'podperf.mono_to_wall_offset_ns'`,
      );
      return BigInt(v as string);
    };
    assert.equal(await meta(files[0].path), before);
    assert.equal(await meta(files[1].path), after);
    for (const [f, off, n] of [[files[0], before, 200], [files[1], after, 100]] as const) {
      const [r] = await queryParquet(
        `SELECT count(*) AS n, count(*) FILTER (WHERE epoch_ns(ts) <> mono_ns + ${off}) AS bad
         FROM read_parquet('${f.path}')`,
      );
      assert.equal(Number(r.n), n);
      assert.equal(r.bad, 0n);
    }
    // files are named by their first slot on the monotonic clock plus the file's offset
    const stamp = (p: string) => p.match(/(\d{8}T\d{6}\.\d{3}Z)/)![1];
    const expect = (mono: bigint, off: bigint) =>
      new Date(Number((mono + off) / 1_000_000n)).toISOString().replaceAll(/[-:]/g, "");
    assert.equal(stamp(files[0].path), expect(row(0).monoNs, before));
    assert.equal(stamp(files[1].path), expect(row(200).monoNs, after));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retention runs as files complete: old files go, the file being written stays", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { sink, files } = await openSink(dir, {
      maxBytes: 20_000,
      rowGroupRows: 500,
      retainBytes: 60_000,
    });
    for (let i = 0; i < 40; i++) {
      sink.append(rows(i * 500, 500));
      await new Promise((r) => setTimeout(r, 5));
    }
    await sink.close();
    await sink.enforceRetention(); // close() waits for it only 1 s
    const s = sink.stats();
    assert.ok(files.length >= 6, `files: ${files.length}`);
    assert.ok(s.retention!.filesDeleted > 0);
    const onDisk = [...Deno.readDirSync(dir)].map((e) => Deno.statSync(join(dir, e.name)).size);
    const total = onDisk.reduce((a, b) => a + b, 0);
    assert.ok(total <= 60_000, `on disk ${total}`);
    assert.equal(s.retention!.bytesOnDisk, total);
    // the newest file survives; the oldest were deleted first
    assert.ok(Deno.statSync(files.at(-1)!.path).isFile);
    assert.throws(() => Deno.statSync(files[0].path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an output directory that cannot be written is refused at open with one line", async () => {
  const dir = await Deno.makeTempDir();
  const mount = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "ro", "tmpfs", dir] })
    .output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    await assert.rejects(() => ParquetSink.open(options(dir)), (e: Error) => {
      assert.equal(e.name, "OutputConfigError");
      assert.match(e.message, /not writable/);
      assert.ok(e.message.includes(dir) && !e.message.includes("\n"), e.message);
      return true;
    });
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a disk that stays full is logged once a minute per kind, with every failure counted", async () => {
  const dir = await Deno.makeTempDir();
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    // the fixture flushes a 1000-row group every ~40 ms: each flush fails once the disk is full
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./sink_fixture.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // stderr read as it comes, so the child never blocks on a full pipe
    const stderrText = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "", stats: Record<string, number | string | null> = {};
    while (!((stats.writeErrors as number) >= 10)) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      if (text.endsWith("\n")) stats = JSON.parse(text.trim().split("\n").at(-1)!);
    }
    child.kill("SIGTERM");
    for (let r = await lines.read(); !r.done; r = await lines.read()) text += r.value;
    await child.status;
    const stderr = await stderrText;
    const full = stderr.split("\n").filter((l) => l.includes("no space left on device"));
    assert.ok((stats.writeErrors as number) >= 10, `write errors: ${stats.writeErrors}`);
    // the Worker's last error reached the running sink (its counters travel in shared memory,
    // the error as a message)
    assert.match(String(stats.lastError), /no space left on device/i);
    assert.ok(
      full.length <= 2,
      `${full.length} lines for ${stats.writeErrors} failures:\n${stderr}`,
    );
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rows appended within postIntervalMs reach the Worker together, after it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await ParquetSink.open(options(dir, { postIntervalMs: 300 }));
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) sink.append(rows(i * 10, 10));
    // held on this side: nothing posted, nothing for the Worker to wake for, but counted
    assert.deepEqual([sink.stats().queueDepth, sink.stats().rowsQueued], [0, 100]);
    let firstPostMs = -1;
    while (sink.stats().rowsQueued > 0 && performance.now() - t0 < 5000) {
      if (firstPostMs < 0 && sink.stats().queueDepth > 0) firstPostMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
    const took = performance.now() - t0;
    assert.ok(took >= 250 && took < 5000, `written after ${took.toFixed(0)} ms`);
    assert.ok(firstPostMs < 0 || firstPostMs >= 250, `first post after ${firstPostMs} ms`);
    await sink.close();
    assert.equal(sink.stats().rowsWritten, 100);
    // packed together as they came: one batch, not one per append
    assert.equal(sink.stats().batchesPosted, 1);
    assert.equal(await countRows(join(dir, "*.parquet")), 100);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a batch never grows past DEFAULT_POST_ROWS: an append that does not fit starts the next", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await ParquetSink.open(options(dir));
    // 6,000-row appends: 12,000 fit in the first batch, the third starts a second one (and
    // 18,000 held rows post both); the last two make a third
    for (let i = 0; i < 5; i++) sink.append(rows(i * 6000, 6000));
    await sink.close();
    assert.equal(sink.stats().rowsWritten, 30_000);
    assert.equal(sink.stats().batchesPosted, 3);
    assert.equal(await countRows(join(dir, "*.parquet")), 30_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Polls until `ok()`; fails with `what` and the sink's stats after 15 s. */
async function waitFor(sink: ParquetSink, what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 15_000;
  while (!ok()) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}: ${JSON.stringify(sink.stats())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Once the Worker has taken every row appended so far, crashes it and waits for its death. */
async function crashWorker(sink: ParquetSink): Promise<void> {
  await waitFor(sink, "the rows to reach the Worker", () => sink.stats().rowsQueued === 0);
  sink.crashForTest();
  await waitFor(sink, "the Worker's death", () => !sink.stats().healthy);
}

Deno.test("a Worker that dies is started again: rows appended meanwhile are held and written, none twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { sink, files } = await openSink(dir, { rowGroupRows: 1000, postIntervalMs: 0 });
    for (let i = 0; i < 5; i++) sink.append(rows(i * 1000, 1000));
    await crashWorker(sink);
    // held while no Worker runs, within the queue's bound
    for (let i = 5; i < 8; i++) sink.append(rows(i * 1000, 1000));
    assert.equal(sink.stats().rowsQueued, 3000);
    await waitFor(sink, "the restart", () => sink.stats().restarts === 1);
    for (let i = 8; i < 10; i++) sink.append(rows(i * 1000, 1000));
    await sink.close();
    const s = sink.stats();
    console.log(`after a Worker death: ${JSON.stringify({ ...s, retention: undefined })}`);
    assert.ok(s.healthy);
    assert.match(s.lastError ?? "", /writer crashed/);
    assert.ok(s.writeErrors >= 1, "a death counts as a write error");
    assert.equal(s.rowsDropped, 0);
    assert.equal(s.rowsQueued, 0);
    const [r] = await queryParquet(
      `SELECT count(*) AS n, count(DISTINCT mono_ns) AS d,
         count(*) FILTER (WHERE mono_ns >= ${row(5000).monoNs}) AS late
       FROM read_parquet('${join(dir, "*.parquet")}')`,
    );
    assert.equal(r.d, r.n, "no row twice");
    assert.equal(Number(r.late), 5000, "every row appended after the death is written");
    // The first 5000 are in the dead Worker's file, which its lock, released with it, let the
    // new Worker salvage: counted as salvaged, not lost; a row in no file must count as lost.
    const first = Number(r.n) - 5000;
    console.log(
      `rows before the death: ${first} in files (${s.rowsSalvaged} salvaged), ${s.rowsLost} lost`,
    );
    assert.equal(first, 5000, "the dead Worker's rows are salvaged");
    assert.equal(s.rowsSalvaged, 5000);
    assert.equal(s.rowsLost, 0);
    assert.equal(s.rowsWritten + s.rowsSalvaged, Number(r.n));
    assert.deepEqual(files.map((f) => f.salvaged), ["writer-died", null]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("close() while a dead Worker waits for its restart: no Worker is started, held rows are counted dropped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await ParquetSink.open(options(dir, { rowGroupRows: 1000, postIntervalMs: 0 }));
    sink.append(rows(0, 1000));
    await crashWorker(sink);
    sink.append(rows(1000, 500)); // held for a Worker that will not come
    const t0 = performance.now();
    await sink.close();
    const s = sink.stats();
    assert.ok(performance.now() - t0 < 1000, "close() waited for the restart delay");
    assert.equal(s.restarts, 0);
    assert.equal(s.rowsDropped, 500);
    assert.equal(s.rowsQueued, 0);
    // the dead Worker's rows stay in its file for the next start to salvage
    assert.ok([...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".tmp")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the collector's isolate never evaluates the Worker's module (it would take the global onmessage)", async () => {
  // a fresh process: this one's module graph holds whatever other tests imported
  const root = new URL("../../", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `await import("${root}mod.ts"); await import("${root}lib/output/parquet_sink.ts");` +
      `console.log(typeof globalThis.onmessage, globalThis.onmessage === null)`,
    ],
    cwd: root,
  }).output();
  const said = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(said === "undefined false" || said === "object true", `onmessage: ${said}`);
});
