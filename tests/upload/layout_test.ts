import assert from "@podperf/assert";
import { objectKey, openedAtFromName, partitionValue } from "../../lib/upload/layout.ts";
import { fileName } from "../../lib/output/rotation.ts";

Deno.test("keys: Hive partitions from the writer's file name, UTC", () => {
  const name = fileName("podperf-node-1", Date.parse("2026-11-29T23:59:59.999Z"), 7);
  assert.deepEqual(openedAtFromName(name), { date: "2026-11-29", hour: "23" });
  assert.equal(
    objectKey("fleet/prod", "node-1", name, 0),
    `fleet/prod/date=2026-11-29/hour=23/node=node-1/${name}`,
  );
  assert.equal(objectKey("", "n", name, 0), `date=2026-11-29/hour=23/node=n/${name}`);
});

Deno.test("keys: names without a time fall back to the given time; odd node names are made safe", () => {
  assert.equal(openedAtFromName("renamed.parquet"), null);
  assert.equal(
    objectKey("p", "a/b c", "renamed.parquet", Date.parse("2026-01-02T03:04:05Z")),
    "p/date=2026-01-02/hour=03/node=a_b_c/renamed.parquet",
  );
  assert.equal(partitionValue("ip-10-0-0-1.ec2.internal"), "ip-10-0-0-1.ec2.internal");
});
