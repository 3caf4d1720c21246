/**
 * Crash-safety fixture: streams rows through a RotatingParquetWriter until SIGTERM, then
 * closes it and prints `{"appended":N,"written":M,"files":F}` on stdout.
 * Usage: stream_fixture.ts <dir>
 */
import { RotatingParquetWriter } from "../../lib/output/rotation.ts";
import { CONFIG, row } from "./fixtures.ts";

const out = new RotatingParquetWriter({
  dir: Deno.args[0],
  prefix: "podperf-node-a",
  maxBytes: 30_000,
  maxAgeMs: 60_000,
  rowGroupRows: 500,
  metadata: CONFIG,
});
let appended = 0;
let stop = false;
let announced = false;
Deno.addSignalListener("SIGTERM", () => stop = true);

while (!stop) {
  for (let k = 0; k < 200; k++) out.append(row(appended++));
  // tell the test once one file is complete and the next has rows: SIGTERM lands mid-file
  if (!announced && out.filesWritten > 0 && out.rowsPending > 0) {
    announced = true;
    console.log("streaming");
  }
  // yield so the signal listener can run
  await new Promise((r) => setTimeout(r, 0));
}
await out.close();
console.log(JSON.stringify({ appended, written: out.rowsWritten, files: out.filesWritten }));
