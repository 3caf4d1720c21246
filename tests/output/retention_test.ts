import assert from "@podperf/assert";
import { join } from "node:path";
import { fileName } from "../../lib/output/rotation.ts";
import { Retention } from "../../lib/output/retention.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 29, 12);

async function withFiles(
  sizes: number[],
  body: (dir: string, names: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    // one file per hour, oldest first
    const names = sizes.map((_, i) =>
      fileName("podperf-n1", NOW - (sizes.length - i) * 3_600_000, i)
    );
    for (let i = 0; i < sizes.length; i++) {
      await Deno.writeFile(join(dir, names[i]), new Uint8Array(sizes[i]));
    }
    await body(dir, names);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function left(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("retention deletes the oldest complete files first until the size fits", async () => {
  await withFiles([100, 100, 100, 100, 100], async (dir, names) => {
    // a file being written, another node's file, a symlink and a foreign file: never touched
    const others = [
      `.${names[0]}.abcd1234.tmp`,
      "podperf-n1-gpu-20200101T000000.000Z-0000.parquet",
      "notes.txt",
    ];
    for (const o of others) await Deno.writeFile(join(dir, o), new Uint8Array(1000));
    await Deno.symlink(join(dir, "notes.txt"), join(dir, fileName("podperf-n1", 0, 0)));
    const r = new Retention({
      dir,
      prefix: "podperf-n1",
      maxBytes: 250,
      maxAgeMs: Infinity,
      nowMs: () => NOW,
    });
    await r.enforce();
    assert.deepEqual(
      left(dir),
      [...others, fileName("podperf-n1", 0, 0), names[3], names[4]].sort(),
    );
    const s = r.stats();
    assert.equal(s.filesDeleted, 3);
    assert.equal(s.bytesDeleted, 300);
    assert.equal(s.bytesOnDisk, 200);
    assert.equal(s.files, 2);
    assert.equal(s.keptOverLimit, 0);
  });
});

Deno.test("retention deletes files older than the age, whatever the size", async () => {
  await withFiles([10, 10, 10], async (dir, names) => {
    const r = new Retention({
      dir,
      prefix: "podperf-n1",
      maxBytes: Infinity,
      maxAgeMs: 2.5 * 3_600_000,
      nowMs: () => NOW,
    });
    await r.enforce();
    assert.deepEqual(left(dir), [names[1], names[2]]);
    // a day later everything is too old
    const later = new Retention({
      dir,
      prefix: "podperf-n1",
      maxBytes: Infinity,
      maxAgeMs: DAY,
      nowMs: () => NOW + 2 * DAY,
    });
    await later.enforce();
    assert.deepEqual(left(dir), []);
  });
});

Deno.test("retention never deletes a file keep() holds, says so in stats, and past the hard limit drops the oldest anyway", async () => {
  await withFiles([100, 100, 100, 100], async (dir, names) => {
    const uploaded = new Set([join(dir, names[3])]);
    const keep = (p: string) => !uploaded.has(p);
    const r = new Retention({
      dir,
      prefix: "podperf-n1",
      maxBytes: 250,
      maxAgeMs: Infinity,
      keep,
      nowMs: () => NOW,
    });
    await r.enforce();
    // only the uploaded file may go; the other three are over the limit but kept
    assert.deepEqual(left(dir), [names[0], names[1], names[2]]);
    let s = r.stats();
    assert.equal(s.filesDeleted, 1);
    assert.equal(s.keptOverLimit, 3);
    assert.equal(s.keptOverLimitBytes, 300);
    assert.equal(s.deletedDespiteKeep, 0);

    // kept files alone past 2 × the limit: the oldest go, counted
    const tight = new Retention({
      dir,
      prefix: "podperf-n1",
      maxBytes: 120,
      maxAgeMs: Infinity,
      keep,
      nowMs: () => NOW,
    });
    await tight.enforce();
    assert.deepEqual(left(dir), [names[1], names[2]]);
    s = tight.stats();
    assert.equal(s.deletedDespiteKeep, 1);
    assert.equal(s.bytesOnDisk, 200);
  });
});
