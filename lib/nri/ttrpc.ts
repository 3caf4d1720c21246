/**
 * The ttrpc codec: messages `{u32 BE body length, u32 BE stream id, u8 type, u8 flags, body}`
 * whose body is a protobuf Request (type 1) or Response (type 2).
 */
import { ByteQueue } from "./byte_queue.ts";
import { NriProtocolError } from "./errors.ts";
import { ttrpcTypes } from "./proto.ts";

/** Size of a ttrpc message header. */
export const TTRPC_HEADER_BYTES = 10;
/** ttrpc message type of a request. */
export const TYPE_REQUEST = 1;
/** ttrpc message type of a response. */
export const TYPE_RESPONSE = 2;
/** ttrpc message type of stream data (streaming RPCs; NRI never uses it). */
export const TYPE_DATA = 3;
/**
 * Default bound on a received ttrpc body. ttrpc's own limit is 4 MiB, but containerd 1.7.24
 * sends a larger Synchronize as is on a huge node (NRI-FACTS §12), so we accept up to 16 MiB.
 */
export const DEFAULT_MAX_MESSAGE = 16 << 20;

/** gRPC status codes used here. */
export const Code = { OK: 0, UNKNOWN: 2, INVALID_ARGUMENT: 3, UNIMPLEMENTED: 12 } as const;

/** One received ttrpc message; `body` is only valid during the callback. */
export interface TtrpcMessage {
  streamId: number;
  type: number;
  flags: number;
  body: Uint8Array;
}

/** A decoded ttrpc Request. */
export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutNano: number;
}

/** A decoded ttrpc Response; `code` 0 when the status is absent. */
export interface TtrpcResponse {
  code: number;
  message: string;
  payload: Uint8Array;
}

/** Builds one ttrpc message (header + body). */
export function encodeMessage(streamId: number, type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(TTRPC_HEADER_BYTES + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  dv.setUint32(4, streamId);
  out[8] = type;
  out[9] = 0;
  out.set(body, TTRPC_HEADER_BYTES);
  return out;
}

/** Encodes a Request body with no timeout and no metadata, as the Go client does for NRI. */
export function encodeRequestBody(
  service: string,
  method: string,
  payload: Uint8Array,
): Uint8Array {
  return ttrpcTypes.Request.encode({ service, method, payload }).finish();
}

/**
 * Encodes a Response body. OK replies carry an explicit empty status (`0a 00`), which the
 * runtime accepts and the Go server also writes.
 */
export function encodeResponseBody(
  payload: Uint8Array,
  code: number = Code.OK,
  message = "",
): Uint8Array {
  const status = code === Code.OK ? {} : { code, message };
  const msg: Record<string, unknown> = { status };
  if (payload.length > 0) msg.payload = payload;
  return ttrpcTypes.Response.encode(msg).finish();
}

/** Decodes a Request body; throws NriProtocolError("undecodable") on bad protobuf. */
export function decodeRequestBody(body: Uint8Array, connId: number): TtrpcRequest {
  try {
    const m = ttrpcTypes.Request.decode(body) as unknown as {
      service: string;
      method: string;
      payload: Uint8Array;
      timeoutNano: number | { toNumber(): number };
    };
    const t = m.timeoutNano;
    return {
      service: m.service ?? "",
      method: m.method ?? "",
      payload: bytesOf(m.payload),
      timeoutNano: typeof t === "number" ? t : t ? t.toNumber() : 0,
    };
  } catch (e) {
    throw new NriProtocolError("undecodable", connId, `ttrpc Request: ${(e as Error).message}`);
  }
}

/** Decodes a Response body; a missing status means OK. */
export function decodeResponseBody(body: Uint8Array, connId: number): TtrpcResponse {
  try {
    const m = ttrpcTypes.Response.decode(body) as unknown as {
      status?: { code?: number; message?: string };
      payload?: Uint8Array;
    };
    return {
      code: m.status?.code ?? 0,
      message: m.status?.message ?? "",
      payload: bytesOf(m.payload),
    };
  } catch (e) {
    throw new NriProtocolError("undecodable", connId, `ttrpc Response: ${(e as Error).message}`);
  }
}

// protobufjs gives a plain [] as the default of an absent bytes field.
function bytesOf(b: unknown): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(0);
}

/** Reassembles ttrpc messages from one mux connection's byte stream. */
export class TtrpcReassembler {
  #queue = new ByteQueue(8192);

  constructor(
    readonly connId: number,
    private readonly onMessage: (msg: TtrpcMessage) => void,
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
  ) {}

  /** Bytes of an incomplete message still buffered (non-zero at close = truncated). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Feeds one frame payload; calls `onMessage` per whole message. */
  push(bytes: Uint8Array): void {
    const q = this.#queue;
    q.push(bytes);
    while (q.length >= TTRPC_HEADER_BYTES) {
      const len = q.u32(0);
      const type = q.u8(8);
      if (len > this.maxMessage) {
        q.clear();
        throw new NriProtocolError(
          "oversized-frame",
          this.connId,
          `ttrpc message of ${len} bytes exceeds the bound of ${this.maxMessage}`,
        );
      }
      if (type < TYPE_REQUEST || type > TYPE_DATA) {
        q.clear();
        throw new NriProtocolError(
          "bad-message",
          this.connId,
          `unknown ttrpc message type ${type}`,
        );
      }
      if (q.length < TTRPC_HEADER_BYTES + len) break;
      this.onMessage({
        streamId: q.u32(4),
        type,
        flags: q.u8(9),
        body: q.view(TTRPC_HEADER_BYTES, len),
      });
      q.consume(TTRPC_HEADER_BYTES + len);
    }
  }
}
