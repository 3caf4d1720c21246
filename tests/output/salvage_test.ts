import assert from "@podperf/assert";
import { join } from "node:path";
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import { fileName } from "../../lib/output/rotation.ts";
import { salvageDeadWriters } from "../../lib/output/salvage.ts";
import { readSidecar } from "../../lib/output/sidecar.ts";
import { queryParquet } from "../helpers/duckdb.ts";
import { CONFIG, row } from "./fixtures.ts";

// A dead writer's leftovers: 3 recorded row groups of 100 rows and 50 buffered rows.
async function deadWriter(dir: string): Promise<{ tmp: string; side: string }> {
  await Deno.writeTextFile(join(dir, ".p.dead0001.lock"), "");
  const w = new ParquetFileWriter({
    path: join(dir, fileName("p", Date.UTC(2024, 0, 1), 0)),
    config: CONFIG,
    owner: "dead0001",
    rowGroupRows: 100,
  });
  for (let i = 0; i < 350; i++) w.append(row(i));
  w.abandon();
  return { tmp: w.tmpPath, side: w.sidecarPath };
}

Deno.test("salvage keeps only row groups whose bytes match the sidecar's CRC (data lost in a power cut)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { tmp, side } = await deadWriter(dir);
    const groups = readSidecar(await Deno.readFile(side))!.groups;
    assert.equal(groups.length, 3);
    // the third group's pages never reached the disk: zeros where they were
    const f = await Deno.open(tmp, { write: true });
    await f.seek(groups[1].dataEnd + 10, Deno.SeekMode.Start);
    await f.write(new Uint8Array(16));
    f.close();
    const { files } = salvageDeadWriters(dir, "p");
    assert.equal(files.length, 1);
    assert.equal(files[0].rows, 200);
    const [{ n }] = await queryParquet(
      `SELECT count(*) AS n FROM read_parquet('${files[0].path}')`,
    );
    assert.equal(n, 200n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a torn last sidecar record is ignored; the groups before it are salvaged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { side } = await deadWriter(dir);
    const bytes = await Deno.readFile(side);
    await Deno.writeFile(side, bytes.subarray(0, bytes.length - 7)); // killed mid-append
    const { files } = salvageDeadWriters(dir, "p");
    assert.equal(files[0].rows, 200);
    const [{ n }] = await queryParquet(
      `SELECT count(*) AS n FROM read_parquet('${files[0].path}')`,
    );
    assert.equal(n, 200n);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
      files[0].path.split("/").pop(),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up never follows a symlink or opens a FIFO planted as a lock or sidecar", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const victim = join(dir, "victim");
    await Deno.writeTextFile(victim, "precious");
    await Deno.symlink(victim, join(dir, ".p.bad00001.lock"));
    const { side } = await deadWriter(dir);
    // the dead writer's sidecar replaced by a FIFO: opening it for reading would hang
    await Deno.remove(side);
    const mk = await new Deno.Command("mkfifo", { args: [side] }).output();
    assert.equal(mk.code, 0);
    const { files, discarded } = salvageDeadWriters(dir, "p");
    assert.equal(files.length, 0);
    assert.equal(discarded, 1);
    assert.equal(await Deno.readTextFile(victim), "precious");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["victim"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
