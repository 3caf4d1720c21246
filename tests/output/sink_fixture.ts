/**
 * Crash fixture: streams rows through a ParquetSink (1000-row groups) and prints its stats as
 * one JSON line every 100 ms, until killed (SIGKILL: the test's crash) or SIGTERM (close).
 * Usage: sink_fixture.ts <dir> [rowsPerTick] [maxBytes]
 */
import { ParquetSink } from "../../lib/output/parquet_sink.ts";
import { CONFIG, row } from "./fixtures.ts";

const sink = await ParquetSink.open({
  dir: Deno.args[0],
  prefix: "podperf-node-a",
  maxBytes: Number(Deno.args[2] ?? 1 << 30),
  maxAgeMs: 3_600_000,
  rowGroupRows: 1000,
  metadata: CONFIG,
  // rows reach the Worker (and the disk) within a tick, as the test's arithmetic assumes
  postIntervalMs: 10,
});
const perTick = Number(Deno.args[1] ?? 250);
let appended = 0;
let stop = false;
Deno.addSignalListener("SIGTERM", () => stop = true);
let last = 0;
while (!stop) {
  sink.append(Array.from({ length: perTick }, (_, k) => row(appended + k)));
  appended += perTick;
  if (performance.now() - last > 100) {
    last = performance.now();
    console.log(JSON.stringify(sink.stats()));
  }
  await new Promise((r) => setTimeout(r, 10));
}
await sink.close();
console.log(JSON.stringify(sink.stats()));
