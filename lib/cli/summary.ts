/** `podperf summary FILE…`: read podperf Parquet files back and summarize a window of them. */
import { isoFromNs, resolveInputs, summarizeInputs } from "../report/mod.ts";
import { parseBy, parseCount, parseWallTime } from "./flags.ts";
import { runSummaryEvery } from "./report.ts";
import { localCgroupPaths } from "./cgroup_paths.ts";
import { mergeCounterSources, printSummary } from "./summary_output.ts";
import { parseDurationNs, UsageError } from "./units.ts";

/** The files hold rows, but none inside the asked window; says what the files do cover. */
export class NoRowsInWindowError extends Error {
  override name = "NoRowsInWindowError";
  /** Times are wall-clock ns; `from`/`to` null when that side was not given. */
  constructor(
    readonly from: bigint | null,
    readonly to: bigint | null,
    readonly coverFrom: bigint,
    readonly coverTo: bigint,
  ) {
    const side = from !== null && to !== null
      ? `between ${isoFromNs(from)} and ${isoFromNs(to)}`
      : from !== null
      ? `from ${isoFromNs(from)} on`
      : `before ${isoFromNs(to!)}`;
    super(
      `no rows ${side}: the files cover ${isoFromNs(coverFrom)} to ${isoFromNs(coverTo)}`,
    );
  }
}

/** Runs `summary`; resolves to the exit code. Usage errors are thrown as UsageError. */
export async function runSummaryCommand(
  inputs: string[],
  o: Record<string, unknown>,
): Promise<number> {
  // Flags first: `--by FILE` must be reported as a bad --by, not as a missing file.
  const by = parseBy(o.by ?? "pod");
  const from = parseWallTime("from", o.from);
  const to = parseWallTime("to", o.to);
  const top = parseCount("top", o.top ?? 0, 0);
  const cpusFlag = o.cpus !== undefined ? parseCount("cpus", o.cpus, 1) : undefined;
  if (from !== undefined && to !== undefined && to <= from) {
    throw new UsageError("to", `--to ${o.to} is not after --from ${o.from}`);
  }
  if (inputs.length === 0) {
    throw new UsageError("FILE", "summary: give at least one file, directory, glob or s3:// URL");
  }
  if (o.every !== undefined) {
    return await runSummaryEvery(inputs, {
      by,
      everyNs: parseDurationNs("every", String(o.every)),
      json: Boolean(o.json),
      fromWallNs: from,
      toWallNs: to,
      cpus: cpusFlag,
    });
  }
  const sources = await resolveInputs(inputs, { toWallNs: to });
  const s = await summarizeInputs(sources, { by, fromWallNs: from, toWallNs: to, cpus: cpusFlag });
  if (s.window === null && (from !== undefined || to !== undefined)) {
    // Say what the inputs do cover: one more pass, only on this error path.
    const all = await summarizeInputs(await resolveInputs(inputs), { by: "node" });
    if (all.window) {
      throw new NoRowsInWindowError(from ?? null, to ?? null, all.window.from, all.window.to);
    }
  }
  // Paths only where the cgroup ids are this node's (files from elsewhere keep their inodes).
  if ((by === "cgroup" || by === "process") && s.nodes.length === 1) {
    const paths = s.nodes[0] === Deno.hostname() ? await localCgroupPaths() : undefined;
    if (paths) {
      for (const g of s.rows) if (g.cgroupId !== null) g.cgroupPath = paths(g.cgroupId) ?? null;
    }
  }
  printSummary({ groups: s.rows, window: s.window, coverage: s.coverage }, {
    by,
    json: Boolean(o.json),
    top,
    cpus: s.cpus,
    counters: mergeCounterSources(s.counters),
    extraJson: { files: s.inputs },
  });
  return 0;
}
