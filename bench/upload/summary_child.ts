/**
 * One `summary` (or the same query in DuckDB) in a fresh process, for peak-RSS figures:
 * `podperf INPUT…` or `duckdb GLOB`. Prints one JSON line with rows, ms and the peak RSS
 * (VmHWM) of this process.
 */
const [engine, ...inputs] = Deno.args;
const peakMiB = () =>
  Math.round(
    Number(/VmHWM:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) / 1024,
  );
const t0 = performance.now();
let rows = 0, groups = 0;
if (engine === "objects") {
  // the reader before streaming: every row of every file a JS object, then summarize
  const { resolveInputs } = await import("../../lib/report/inputs.ts");
  const { readRowsFromParquet } = await import("../../lib/report/read_parquet.ts");
  const { summarize } = await import("../../lib/report/summary.ts");
  const all = await readRowsFromParquet((await resolveInputs(inputs)).map((s) => s.name));
  rows = all.length;
  groups = summarize(all, { by: "pod" }).length;
} else if (engine === "podperf") {
  const { resolveInputs } = await import("../../lib/report/inputs.ts");
  const { summarizeInputs } = await import("../../lib/report/summarize_inputs.ts");
  const s = await summarizeInputs(await resolveInputs(inputs), { by: "pod" });
  rows = s.rowsRead;
  groups = s.rows.length;
} else {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const con = await (await DuckDBInstance.create(":memory:")).connect();
  const r = await con.runAndReadAll(
    `SELECT pod_uid, sum(cpu_ns), sum(cycles), sum(instructions), sum(llc_misses), count(*) AS n
     FROM read_parquet('${inputs[0].replaceAll("'", "''")}') GROUP BY pod_uid`,
  );
  const objs = r.getRowObjects();
  groups = objs.length;
  rows = objs.reduce((a, o) => a + Number(o.n), 0);
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ engine, rows, groups, ms: Math.round(ms), peakRssMiB: peakMiB() }));
