/**
 * Upload and fleet-reading figures, all against a real s3rver started here:
 * - the S3 client choice: this repo's SigV4-over-fetch client vs @aws-sdk/client-s3, each in a
 *   fresh process (time to the first answered request, RSS, PUT MiB/s) and by weight (bundled
 *   JS and npm files `deno compile` would embed);
 * - the uploader: MiB/s and CPU seconds per GiB of this process;
 * - summary: rows/s and peak RSS vs input size, local and from the S3 server, next to DuckDB on
 *   the same files and the whole-file object reader summary used before.
 */
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { Uploader } from "../lib/upload/uploader.ts";
import { S3Client } from "../lib/upload/s3_client.ts";
import { staticProvider } from "../lib/upload/credentials.ts";
import { S3rver, S3RVER_KEY } from "../tests/helpers/s3rver.ts";
import { writeNodeFiles } from "../tests/upload/fixtures.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function child(
  script: string,
  args: string[],
  env?: Record<string, string>,
  denoFlags: string[] = [],
): Promise<Record<string, number | string>> {
  const out = await new Deno.Command("nice", {
    args: ["-n", "19", Deno.execPath(), "run", "-A", ...denoFlags, here(script), ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${script} ${args[0]}: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

async function bytesOf(cmd: string[]): Promise<number> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).trim().split(/\s/)[0]);
}

/** Bundled JS size and the npm package files `deno compile` embeds for one entry point. */
async function weight(entry: string): Promise<{ bundleKiB: number; npmKiB: number }> {
  const tmp = await Deno.makeTempFile({ suffix: ".js" });
  try {
    await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "-q", "-o", tmp, here(entry)],
      stdout: "null",
      stderr: "null",
    }).output();
    const bundle = (await Deno.stat(tmp)).size;
    // what `deno compile` has to carry besides the bundle: the npm packages the entry needs,
    // their dependencies followed through package.json (node_modules is flat)
    const root = here("../node_modules/");
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      try {
        const pj = JSON.parse(Deno.readTextFileSync(`${root}${name}/package.json`));
        seen.add(name);
        for (const d of Object.keys(pj.dependencies ?? {})) visit(d);
      } catch { /* optional or platform package not installed */ }
    };
    for (
      const m of Deno.readTextFileSync(here(entry)).matchAll(/from "((?:@[^/"]+\/)?[^/".][^/"]*)/g)
    ) {
      visit(m[1]);
    }
    let npm = 0;
    for (const name of seen) npm += await bytesOf(["du", "-sb", `${root}${name}`]);
    return { bundleKiB: Math.round(bundle / 1024), npmKiB: Math.round(npm / 1024) };
  } finally {
    await Deno.remove(tmp);
  }
}

/** The client choice: median of `reps` fresh processes per client. */
export async function benchS3Client(reps = 3): Promise<Record<string, unknown>[]> {
  const server = await S3rver.start();
  try {
    const out: Record<string, unknown>[] = [];
    for (const which of ["podperf", "sdk"]) {
      const runs: Record<string, number | string>[] = [];
      for (let i = 0; i < reps; i++) {
        runs.push(await child("upload/client_child.ts", [which, server.endpoint, "32"]));
      }
      const w = await weight(which === "sdk" ? "upload/_sdk_only.ts" : "upload/_ours_only.ts");
      const m = (k: string) => median(runs.map((r) => Number(r[k])));
      out.push({
        client: which === "sdk" ? "@aws-sdk/client-s3 3.1173" : "podperf SigV4 + fetch",
        "import+first request ms": m("importAndFirstRequestMs"),
        "RSS after first MiB": m("rssAfterFirstMiB"),
        "PUT 4×32 MiB MiB/s": m("putMiBps"),
        "RSS after PUTs MiB": m("rssAfterPutsMiB"),
        "bundled JS KiB": w.bundleKiB,
        "npm files embedded KiB": w.npmKiB,
      });
    }
    return out;
  } finally {
    await server.stop();
  }
}

/** The uploader on `files` × `mib` MiB random files (multipart, 8 MiB parts). */
export async function benchUploader(files = 8, mib = 32): Promise<Record<string, unknown>[]> {
  const server = await S3rver.start();
  const dir = await Deno.makeTempDir();
  try {
    const data = new Uint8Array(mib << 20);
    for (let o = 0; o < data.length; o += 65536) {
      crypto.getRandomValues(data.subarray(o, o + 65536));
    }
    for (let i = 0; i < files; i++) {
      data[0] = i; // distinct contents
      await Deno.writeFile(
        join(dir, `podperf-bench-20261129T1000${String(i).padStart(2, "0")}.000Z-0000.parquet`),
        data,
      );
    }
    const out: Record<string, unknown>[] = [];
    for (const concurrency of [1, 2]) {
      const up = new Uploader({
        dir,
        location: { bucket: "podperf", prefix: `c${concurrency}` },
        // the default 120 s request timeout: s3rver under nice and other load is slow
        client: new S3Client({
          bucket: "podperf",
          region: "us-east-1",
          endpoint: server.endpoint,
          credentials: staticProvider(S3RVER_KEY),
        }),
        node: "bench",
        concurrency,
      });
      // the files are deleted after upload: keep copies for the next round
      const keep = await Deno.makeTempDir();
      for await (const e of Deno.readDir(dir)) {
        await Deno.copyFile(join(dir, e.name), join(keep, e.name));
      }
      const cpu0 = cpuUsage(), t0 = performance.now();
      await up.start();
      await up.close(600_000);
      const secs = (performance.now() - t0) / 1000;
      const cpu = cpuUsage(cpu0);
      const gib = files * mib / 1024;
      out.push({
        files,
        "file MiB": mib,
        concurrency,
        "MiB/s": Math.round(files * mib / secs),
        "podperf CPU s per GiB": Number(((cpu.user + cpu.system) / 1e6 / gib).toFixed(2)),
        uploaded: up.stats().uploaded,
      });
      for await (const e of Deno.readDir(keep)) {
        await Deno.rename(join(keep, e.name), join(dir, e.name));
      }
      await Deno.remove(keep, { recursive: true });
    }
    return out;
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * summary vs input size: 1 M rows written by the real writer (4 files), copied to make 10 M
 * (40 files); each engine in its own process, local and from s3rver.
 */
export async function benchSummaryRead(quick = false): Promise<Record<string, unknown>[]> {
  const base = await Deno.makeTempDir();
  const server = await S3rver.start();
  try {
    const one = join(base, "1M");
    await Deno.mkdir(one);
    await writeNodeFiles(one, {
      node: "bench",
      files: 4,
      rowsPerFile: 250_000,
      rowGroupRows: 16384,
    });
    const sets: [string, string, number][] = [["1M", one, 1]];
    if (!quick) {
      const ten = join(base, "10M");
      await Deno.mkdir(ten);
      for (let c = 0; c < 10; c++) {
        for await (const e of Deno.readDir(one)) {
          await Deno.copyFile(join(one, e.name), join(ten, `podperf-c${c}-${e.name.slice(8)}`));
        }
      }
      sets.push(["10M", ten, 10]);
    }
    const client = server.client();
    const { createHash } = await import("node:crypto");
    const out: Record<string, unknown>[] = [];
    for (const [label, dir, mult] of sets) {
      let bytes = 0;
      for await (const e of Deno.readDir(dir)) {
        const body = await Deno.readFile(join(dir, e.name));
        bytes += body.length;
        await client.put(`${label}/${e.name}`, body, {
          md5Base64: createHash("md5").update(body).digest("base64"),
          sha256Hex: createHash("sha256").update(body).digest("hex"),
        });
      }
      const row = (engine: string, where: string, r: Record<string, number | string>) => ({
        rows: label,
        "MiB on disk": Number((bytes / 2 ** 20).toFixed(1)),
        engine,
        source: where,
        "rows/s": Math.round(Number(r.rows) / (Number(r.ms) / 1000)),
        "peak RSS MiB": r.peakRssMiB,
        ok: Number(r.rows) === 1_000_000 * mult ? "yes" : `rows ${r.rows}`,
      });
      out.push(
        row("podperf summary", "local", await child("upload/summary_child.ts", ["podperf", dir])),
      );
      // the live set is bounded; RSS above it is V8 letting the heap grow: capped, it stays low
      out.push(
        row(
          "podperf summary, V8 old space ≤ 96 MiB",
          "local",
          await child("upload/summary_child.ts", ["podperf", dir], undefined, [
            "--v8-flags=--max-old-space-size=96",
          ]),
        ),
      );
      out.push(
        row(
          "podperf summary",
          "s3rver",
          await child(
            "upload/summary_child.ts",
            ["podperf", `s3://podperf/${label}`],
            server.env(),
          ),
        ),
      );
      out.push(
        row(
          "duckdb 1.5 (node-api)",
          "local",
          await child("upload/summary_child.ts", ["duckdb", `${dir}/*.parquet`]),
        ),
      );
      if (mult === 1 || !quick) {
        out.push(
          row(
            "row objects (before)",
            "local",
            await child("upload/summary_child.ts", ["objects", dir]),
          ),
        );
      }
    }
    return out;
  } finally {
    await server.stop();
    await Deno.remove(base, { recursive: true });
  }
}
