import assert from "@podperf/assert";
import {
  DRAIN_TARGET_RECORDS,
  drainWaitMs,
  MAX_DRAIN_WAIT_MS,
  MIN_DRAIN_WAIT_MS,
} from "../../lib/collect/collector.ts";

Deno.test("the drain waits as long as the last rate needs for its target, within its bounds", () => {
  // a quiet node: a few records a second wait the longest
  assert.equal(drainWaitMs(3, 1000, MAX_DRAIN_WAIT_MS), MAX_DRAIN_WAIT_MS);
  assert.equal(drainWaitMs(0, 1000, MAX_DRAIN_WAIT_MS), MAX_DRAIN_WAIT_MS);
  // in between: the time the target takes at the rate seen
  assert.equal(drainWaitMs(DRAIN_TARGET_RECORDS, 400, MAX_DRAIN_WAIT_MS), 400);
  assert.equal(drainWaitMs(2 * DRAIN_TARGET_RECORDS, 400, MAX_DRAIN_WAIT_MS), 200);
  // a busy node drains every MIN_DRAIN_WAIT_MS (and sooner when a quarter of the ring fills)
  assert.equal(drainWaitMs(1_000_000, 50, MAX_DRAIN_WAIT_MS), MIN_DRAIN_WAIT_MS);
  // a longest wait below the shortest is both bounds; no elapsed time is the shortest
  assert.equal(drainWaitMs(0, 1000, 20), 20);
  assert.equal(drainWaitMs(10, 0, MAX_DRAIN_WAIT_MS), MIN_DRAIN_WAIT_MS);
});
