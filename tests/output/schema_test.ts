import assert from "@podperf/assert";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { outputRow, type SlotColumns } from "../../lib/output/schema.ts";
import { queryParquet } from "../helpers/duckdb.ts";

const SLOT: SlotColumns = {
  monoNs: 1_000_000n,
  tgid: 42,
  comm: "nginx",
  cgroupId: 7n,
  cpuNs: 900_000,
  cycles: null,
  instructions: null,
  llcMisses: null,
  pageFaults: 3,
  contextSwitches: 1,
  runqDelayNs: 0,
  runqWaits: 0,
  carried: false,
  scaled: false,
  records: 2,
};

Deno.test("outputRow fills pod columns from metadata and leaves them NULL when unknown", () => {
  const meta = {
    podName: "web",
    podNamespace: "default",
    podUid: "u1",
    containerName: "app",
    containerId: null,
    image: "nginx:1", // PodMeta's image is not a column
    source: "oci" as const,
  };
  const known = outputRow(SLOT, meta);
  assert.equal(known.podName, "web");
  assert.equal(known.containerId, null);
  assert.equal(known.metaSource, "oci");
  assert.ok(!("image" in known));
  const unknown = outputRow(SLOT, null);
  assert.equal(unknown.podName, null);
  assert.equal(unknown.metaSource, null);
  assert.equal(unknown.cgroupId, 7n);
});

Deno.test("DuckDB drops the ns digits of a UTC-adjusted ns timestamp (why ts is not adjusted)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (name: string, isAdjustedToUTC: boolean) => {
      const path = join(dir, name);
      parquetWriteFile({
        filename: path,
        columnData: [{ name: "ts", data: [1_700_000_000_123_456_789n] }],
        schema: [
          { name: "root", num_children: 1 },
          {
            name: "ts",
            type: "INT64",
            repetition_type: "REQUIRED",
            logical_type: { type: "TIMESTAMP", isAdjustedToUTC, unit: "NANOS" },
          },
        ],
      });
      return path;
    };
    const read = async (path: string) =>
      (await queryParquet(
        `SELECT typeof(ts) AS t, epoch_ns(ts) AS ns FROM read_parquet('${path}')`,
      ))[0];
    assert.deepEqual(await read(write("local.parquet", false)), {
      t: "TIMESTAMP_NS",
      ns: 1_700_000_000_123_456_789n,
    });
    const adjusted = await read(write("utc.parquet", true));
    assert.equal(adjusted.t, "TIMESTAMP WITH TIME ZONE");
    assert.equal(adjusted.ns, 1_700_000_000_123_456_000n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
