/**
 * The NRI multiplexer: one unix stream carries several byte streams, each cut into frames
 * `{u32 BE conn id, u32 BE payload length, payload}`.
 */
import { ByteQueue } from "./byte_queue.ts";
import { NriProtocolError } from "./errors.ts";

/** Conn id of the plugin service (runtime calls the plugin). */
export const PLUGIN_SERVICE_CONN = 1;
/** Conn id of the runtime service (plugin calls the runtime). */
export const RUNTIME_SERVICE_CONN = 2;
/** Size of a mux frame header. */
export const MUX_HEADER_BYTES = 8;
/**
 * Largest frame payload we send: the runtime reads each conn through a 4096-byte buffer and a
 * larger frame kills its reader (NRI-FACTS §4).
 */
export const MAX_SEND_FRAME_PAYLOAD = 4096;
/** Default bound on a received frame's payload: the NRI v0.6.1 writer refuses more than 16 MiB. */
export const DEFAULT_MAX_RECV_FRAME = 16 << 20;

/**
 * Wraps one whole message of conn `connId` in frames of at most `maxPayload` bytes, returned as
 * one buffer so a single write keeps a message's frames together.
 */
export function encodeFrames(
  connId: number,
  message: Uint8Array,
  maxPayload = MAX_SEND_FRAME_PAYLOAD,
): Uint8Array {
  const frames = Math.max(1, Math.ceil(message.length / maxPayload));
  const out = new Uint8Array(message.length + frames * MUX_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  let src = 0, dst = 0;
  for (let i = 0; i < frames; i++) {
    const n = Math.min(maxPayload, message.length - src);
    dv.setUint32(dst, connId);
    dv.setUint32(dst + 4, n);
    out.set(message.subarray(src, src + n), dst + MUX_HEADER_BYTES);
    src += n;
    dst += MUX_HEADER_BYTES + n;
  }
  return out;
}

/** Callback for one received frame; `payload` is only valid during the call. */
export type FrameHandler = (connId: number, payload: Uint8Array) => void;

/** Cuts the received socket byte stream into frames. */
export class MuxDecoder {
  #queue = new ByteQueue();

  constructor(
    private readonly onFrame: FrameHandler,
    private readonly maxFrame = DEFAULT_MAX_RECV_FRAME,
  ) {}

  /** Bytes received but not yet forming a whole frame. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Feeds socket bytes; calls `onFrame` per whole frame; throws NriProtocolError on a bad header. */
  push(chunk: Uint8Array): void {
    const q = this.#queue;
    q.push(chunk);
    while (q.length >= MUX_HEADER_BYTES) {
      const connId = q.u32(0);
      const len = q.u32(4);
      if (len > this.maxFrame) {
        q.clear();
        throw new NriProtocolError(
          "oversized-frame",
          connId,
          `frame payload of ${len} bytes exceeds the bound of ${this.maxFrame}`,
        );
      }
      if (q.length < MUX_HEADER_BYTES + len) break;
      this.onFrame(connId, q.view(MUX_HEADER_BYTES, len));
      q.consume(MUX_HEADER_BYTES + len);
    }
  }
}
