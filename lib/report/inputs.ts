/**
 * What a report reads: files, directories (every `*.parquet` below them), globs (for lists too
 * long for a shell) and `s3://BUCKET/PREFIX` (listed, then read with ranged GETs), each opened
 * as a random-access byte source so only footers and the needed column chunks are fetched.
 */
import type { AsyncBuffer } from "hyparquet";
import { join } from "node:path";
import { openedAtFromName } from "../upload/layout.ts";
import { clientFromEnv, isS3Url, parseS3Url, type S3Client } from "../upload/s3_client.ts";

/** An input argument that names nothing readable. */
export class InputError extends Error {
  override name = "InputError";
  constructor(readonly input: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A random-access view of a file. */
export interface SourceBuffer extends AsyncBuffer {
  /** Reads [start, end) ahead in one request; later slices inside it are served from memory. */
  prefetch?(start: number, end: number): Promise<void>;
  close(): void;
}

/** One Parquet file to read, local or in a bucket. */
export interface InputSource {
  /** path or s3:// URL, for messages */
  name: string;
  size: number;
  /** A random-access view of the file; close() releases it. */
  open(): Promise<SourceBuffer>;
}

/** Options of resolveInputs(). */
export interface ResolveOptions {
  /** wall-clock window (ns since the epoch): objects whose partition opened after `to` are skipped */
  toWallNs?: bigint;
  /** builds the S3 client of a bucket (default: from the AWS_* environment) */
  s3Client?: (bucket: string) => S3Client;
}

const GLOB = /[*?[]/;
const SLACK_NS = 15n * 60n * 1_000_000_000n;

/** Turns arguments into the list of files to read, in a stable order; throws InputError. */
export async function resolveInputs(
  args: readonly string[],
  opts: ResolveOptions = {},
): Promise<InputSource[]> {
  const out: InputSource[] = [];
  const seen = new Set<string>();
  const add = (s: InputSource) => {
    if (!seen.has(s.name)) {
      seen.add(s.name);
      out.push(s);
    }
  };
  for (const arg of args) {
    let matched = 0;
    if (isS3Url(arg)) {
      const objects = await listS3(arg, opts);
      for (const s of objects) add(s);
      matched = objects.length;
    } else {
      let st: Deno.FileInfo | null = null;
      try {
        st = await Deno.stat(arg);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound) || !GLOB.test(arg)) {
          throw new InputError(arg, `cannot read ${arg}: ${(e as Error).message}`, { cause: e });
        }
      }
      const paths = st === null
        ? await expandGlob(arg)
        : st.isDirectory
        ? await walkParquet(arg)
        : [arg];
      for (const p of paths) add(await localSource(p));
      matched = paths.length;
    }
    if (matched === 0) throw new InputError(arg, `no .parquet files in ${arg}`);
  }
  return out;
}

/** A local file as an input; a directory is refused with "Is a directory". */
export async function localSource(path: string): Promise<InputSource> {
  const st = await Deno.stat(path);
  if (st.isDirectory) throw new InputError(path, `${path}: Is a directory`);
  return {
    name: path,
    size: st.size,
    async open() {
      const f = await Deno.open(path, { read: true });
      // one handle, one position: reads are chained so concurrent slices do not interleave
      let chain: Promise<unknown> = Promise.resolve();
      const read = (start: number, end: number): Promise<Uint8Array> => {
        const run = async () => {
          const buf = new Uint8Array(end - start);
          await f.seek(start, Deno.SeekMode.Start);
          let off = 0;
          while (off < buf.length) {
            const n = await f.read(buf.subarray(off));
            if (n === null) throw new Error(`${path}: file shorter than ${end} bytes`);
            off += n;
          }
          return buf;
        };
        const p = chain.then(run, run);
        chain = p.catch(() => {});
        return p;
      };
      return windowed(st.size, read, () => f.close());
    },
  };
}

/**
 * A SourceBuffer over a ranged reader with one prefetched window (a row group's chunks): a row
 * group costs one read, and memory stays one row group.
 */
function windowed(
  size: number,
  read: (start: number, end: number) => Promise<Uint8Array>,
  close: () => void,
): SourceBuffer {
  let win: { start: number; bytes: Uint8Array } | null = null;
  return {
    byteLength: size,
    async prefetch(start: number, end: number) {
      win = null;
      win = { start, bytes: await read(start, end) };
    },
    async slice(start: number, end = size) {
      const w = win;
      const b = w && start >= w.start && end <= w.start + w.bytes.length
        ? w.bytes.subarray(start - w.start, end - w.start)
        : await read(start, end);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
    close() {
      win = null;
      close();
    },
  };
}

/** Every completed `*.parquet` below a directory (temporaries `.x.parquet.tmp` excluded). */
export async function walkParquet(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(d)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) found.push(p);
    }
  };
  await walk(dir);
  return found;
}

function segmentRegex(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = seg.indexOf("]", i + 1);
      if (close < 0) re += "\\[";
      else {
        re += `[${seg.slice(i + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Expands `*`, `?`, `[…]` and `**` (any depth) in a path, matches sorted. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const abs = pattern.startsWith("/");
  const segs = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  const out: string[] = [];
  const step = async (base: string, i: number): Promise<void> => {
    if (i === segs.length) {
      try {
        if ((await Deno.stat(base)).isFile) out.push(base);
      } catch { /* vanished */ }
      return;
    }
    const seg = segs[i];
    if (seg === "") return step(abs ? "/" : base, i + 1);
    if (!GLOB.test(seg)) return step(base === "" ? seg : join(base, seg), i + 1);
    const dir = base === "" ? "." : base;
    let entries: Deno.DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(dir)) entries.push(e);
    } catch {
      return;
    }
    entries = entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    if (seg === "**") {
      await step(base, i + 1);
      for (const e of entries) {
        if (e.isDirectory) await step(base === "" ? e.name : join(base, e.name), i);
      }
      return;
    }
    const re = segmentRegex(seg);
    for (const e of entries) {
      if (e.name.startsWith(".") && !seg.startsWith(".")) continue;
      if (re.test(e.name)) await step(base === "" ? e.name : join(base, e.name), i + 1);
    }
  };
  await step("", 0);
  return out.sort();
}

// date=YYYY-MM-DD/hour=HH in a key: the UTC hour its file was opened (lib/upload/layout.ts)
const PARTITION = /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//;

function partitionStartNs(key: string): bigint | null {
  const m = PARTITION.exec(key);
  if (m) return BigInt(Date.parse(`${m[1]}T${m[2]}:00:00Z`)) * 1_000_000n;
  const at = openedAtFromName(key);
  return at ? BigInt(Date.parse(`${at.date}T${at.hour}:00:00Z`)) * 1_000_000n : null;
}

async function listS3(url: string, opts: ResolveOptions): Promise<InputSource[]> {
  const loc = parseS3Url(url);
  const client = (opts.s3Client ?? clientFromEnv)(loc.bucket);
  const out: InputSource[] = [];
  const source = (key: string, size: number): InputSource => ({
    name: `s3://${loc.bucket}/${key}`,
    size,
    open: () => Promise.resolve(windowed(size, (a, b) => client.getRange(key, a, b), () => {})),
  });
  if (loc.prefix.endsWith(".parquet")) {
    const head = await client.head(loc.prefix);
    if (!head) throw new InputError(url, `no object ${url}`);
    return [source(loc.prefix, head.size)];
  }
  const prefix = loc.prefix ? `${loc.prefix}/` : "";
  for await (const o of client.listAll(prefix)) {
    if (!o.key.endsWith(".parquet")) continue;
    // a file opened after the window's end holds nothing inside it; the slack covers slots
    // that closed just before their file was opened
    const start = partitionStartNs(o.key.slice(prefix.length));
    if (opts.toWallNs !== undefined && start !== null && start - SLACK_NS >= opts.toWallNs) {
      continue;
    }
    out.push(source(o.key, o.size));
  }
  out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return out;
}
