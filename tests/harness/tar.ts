/** A minimal deterministic ustar writer: enough to build OCI image layers and layouts. */

/** One tar member: a regular file, a directory or a symbolic link. */
export type TarEntry =
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "symlink"; path: string; target: string };

/** Thrown when a member name or link target does not fit the ustar header. */
export class TarNameError extends Error {
  /** Names the member that does not fit. */
  constructor(readonly path: string, readonly reason: string) {
    super(`tar: cannot store "${path}": ${reason}`);
    this.name = "TarNameError";
  }
}

const BLOCK = 512;
const encoder = new TextEncoder();

function putString(h: Uint8Array, offset: number, length: number, s: string, path: string): void {
  const bytes = encoder.encode(s);
  if (bytes.length > length) throw new TarNameError(path, `"${s}" longer than ${length} bytes`);
  h.set(bytes, offset);
}

function putOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  // length-1 octal digits, NUL terminated, as GNU tar and Go's archive/tar write them.
  const s = value.toString(8).padStart(length - 1, "0");
  h.set(encoder.encode(s), offset);
  h[offset + length - 1] = 0;
}

function header(entry: TarEntry, size: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let name = entry.path;
  let prefix = "";
  if (encoder.encode(name).length > 100) {
    // ustar splits long names at a slash into prefix (155) + name (100).
    const cut = name.lastIndexOf("/", 155);
    if (cut <= 0) throw new TarNameError(entry.path, "name longer than 100 bytes without a split");
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  putString(h, 0, 100, name, entry.path);
  const mode = entry.kind === "symlink"
    ? 0o777
    : entry.mode ?? (entry.kind === "dir" ? 0o755 : 0o644);
  putOctal(h, 100, 8, mode);
  putOctal(h, 108, 8, 0); // uid
  putOctal(h, 116, 8, 0); // gid
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 0); // mtime: fixed, so digests do not change between builds
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = entry.kind === "file" ? 0x30 : entry.kind === "dir" ? 0x35 : 0x32;
  if (entry.kind === "symlink") putString(h, 157, 100, entry.target, entry.path);
  putString(h, 257, 6, "ustar", entry.path); // "ustar\0"
  putString(h, 263, 2, "00", entry.path);
  putString(h, 265, 32, "root", entry.path);
  putString(h, 297, 32, "root", entry.path);
  putOctal(h, 329, 8, 0);
  putOctal(h, 337, 8, 0);
  putString(h, 345, 155, prefix, entry.path);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  putOctal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** Serialises entries, in the given order, into one uncompressed tar archive. */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  let total = 2 * BLOCK; // end-of-archive marker
  for (const e of entries) {
    total += BLOCK;
    if (e.kind === "file") total += Math.ceil(e.data.length / BLOCK) * BLOCK;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    const path = e.kind === "dir" && !e.path.endsWith("/") ? e.path + "/" : e.path;
    const size = e.kind === "file" ? e.data.length : 0;
    out.set(header({ ...e, path }, size), at);
    at += BLOCK;
    if (e.kind === "file") {
      out.set(e.data, at);
      at += Math.ceil(size / BLOCK) * BLOCK;
    }
  }
  return out;
}
