/**
 * Memory fixture: writes `rows` bench-like rows (fresh strings per row, as a worst case) to one
 * Parquet file and prints `{"rows":N,"peakRssBytes":B,"bytes":F}`.
 * Usage: memory_fixture.ts <path> <rows>
 */
import { ParquetFileWriter } from "../../lib/output/parquet_writer.ts";
import { CONFIG, row } from "./fixtures.ts";

const [path, count] = [Deno.args[0], Number(Deno.args[1])];
const w = new ParquetFileWriter({ path, config: CONFIG });
for (let i = 0; i < count; i++) w.append(row(i));
const info = await w.close();
const hwm = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/)!;
console.log(
  JSON.stringify({ rows: info.rows, peakRssBytes: Number(hwm[1]) * 1024, bytes: info.bytes }),
);
