/** Test helpers: build protobuf and frame bytes by hand, as the fact sheet's captures are written. */

const enc = new TextEncoder();

/** Bytes from a hex string; spaces ignored. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Hex of bytes, no spaces. */
export function toHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Concatenates byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A protobuf varint. */
export function varint(n: number | bigint): Uint8Array {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return new Uint8Array(out);
}

/** A length-delimited field (wire type 2). */
export function ld(field: number, body: Uint8Array | string): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  return cat(varint((field << 3) | 2), varint(b.length), b);
}

/** A varint field (wire type 0). */
export function vf(field: number, n: number | bigint): Uint8Array {
  return cat(varint(field << 3), varint(n));
}

/** A 64-bit field (wire type 1). */
export function f64(field: number, n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return cat(varint((field << 3) | 1), b);
}

/** A 32-bit field (wire type 5). */
export function f32(field: number, n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return cat(varint((field << 3) | 5), b);
}

/** A map<string,string> entry as field `field`. */
export function mapEntry(field: number, key: string, value: string): Uint8Array {
  return ld(field, cat(ld(1, key), ld(2, value)));
}

/** A ttrpc message: 10-byte header + body. */
export function ttrpcMsg(streamId: number, type: number, body: Uint8Array): Uint8Array {
  const h = new Uint8Array(10);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, body.length);
  dv.setUint32(4, streamId);
  h[8] = type;
  return cat(h, body);
}

/** One mux frame. */
export function frame(connId: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(8);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, connId);
  dv.setUint32(4, payload.length);
  return cat(h, payload);
}
