/**
 * One NRI socket session: the mux over a stream connection, a ttrpc server on conn 1 and a
 * ttrpc client on conn 2. It ends at the first protocol error or when the peer closes.
 */
import {
  DEFAULT_MAX_RECV_FRAME,
  encodeFrames,
  MuxDecoder,
  PLUGIN_SERVICE_CONN,
  RUNTIME_SERVICE_CONN,
} from "./mux.ts";
import {
  Code,
  decodeRequestBody,
  decodeResponseBody,
  encodeMessage,
  encodeRequestBody,
  encodeResponseBody,
  TtrpcMessage,
  TtrpcReassembler,
  TtrpcRequest,
  TYPE_REQUEST,
  TYPE_RESPONSE,
} from "./ttrpc.ts";
import { NriClosedError, NriProtocolError, NriRpcError } from "./errors.ts";

/** What a request handler returns: the reply, and optional work to run once it is sent. */
export interface ServerReply {
  payload?: Uint8Array;
  code?: number;
  message?: string;
  /** Runs after the reply is written, before the next received byte is looked at. */
  after?: () => void;
}

/** Answers requests arriving on conn 1; must be synchronous and fast. */
export type RequestHandler = (req: TtrpcRequest) => ServerReply;

/** Options of a session. */
export interface SessionOptions {
  /** Bound on a received mux frame payload. */
  maxFrame?: number;
}

interface Pending {
  service: string;
  method: string;
  resolve: (payload: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** How a session ended: cleanly (peer closed between messages, or close()) or with an error. */
export type SessionEnd = { error: Error | null };

/** A live connection to the runtime. */
export class NriSession {
  #conn: Deno.Conn;
  #mux: MuxDecoder;
  #server: TtrpcReassembler;
  #client: TtrpcReassembler;
  #nextStream = 1;
  #pending = new Map<number, Pending>();
  #writeChain: Promise<void> = Promise.resolve();
  #closed = false;
  #afterQueue: (() => void)[] = [];
  #lastRequestStream = 0;

  constructor(
    conn: Deno.Conn,
    private readonly handler: RequestHandler,
    opts: SessionOptions = {},
  ) {
    this.#conn = conn;
    this.#server = new TtrpcReassembler(PLUGIN_SERVICE_CONN, (m) => this.#onServerMessage(m));
    this.#client = new TtrpcReassembler(RUNTIME_SERVICE_CONN, (m) => this.#onClientMessage(m));
    this.#mux = new MuxDecoder((connId, payload) => {
      if (connId === PLUGIN_SERVICE_CONN) this.#server.push(payload);
      else if (connId === RUNTIME_SERVICE_CONN) this.#client.push(payload);
      else {
        throw new NriProtocolError(
          "unknown-conn",
          connId,
          `frame of ${payload.length} bytes for a conn id we never opened`,
        );
      }
    }, opts.maxFrame ?? DEFAULT_MAX_RECV_FRAME);
  }

  /** Calls `service/method` on conn 2; resolves with the reply payload or rejects with NriRpcError. */
  call(service: string, method: string, payload: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new NriClosedError(method));
    const streamId = this.#nextStream;
    this.#nextStream += 2;
    const msg = encodeMessage(streamId, TYPE_REQUEST, encodeRequestBody(service, method, payload));
    return new Promise((resolve, reject) => {
      this.#pending.set(streamId, { service, method, resolve, reject });
      this.#write(encodeFrames(RUNTIME_SERVICE_CONN, msg));
    });
  }

  /** Reads until the peer closes or breaks the protocol; never throws. */
  async run(): Promise<SessionEnd> {
    const buf = new Uint8Array(65536);
    let error: Error | null = null;
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          if (this.#mux.pending > 0 || this.#server.pending > 0 || this.#client.pending > 0) {
            error = new NriProtocolError(
              "truncated",
              0,
              `connection closed inside a message (${this.#mux.pending} mux bytes, ${this.#server.pending} + ${this.#client.pending} ttrpc bytes pending)`,
            );
          }
          break;
        }
        this.#mux.push(buf.subarray(0, n));
        // Work that must follow a reply runs once the reply is on the wire, and before the
        // next request is decoded, so the store sees events in order.
        while (this.#afterQueue.length > 0) {
          await this.#writeChain;
          const jobs = this.#afterQueue.splice(0);
          for (const job of jobs) job();
        }
      }
    } catch (e) {
      if (!this.#closed) error = e as Error;
    }
    this.#shutdown();
    return { error };
  }

  /** Closes the socket; a pending run() returns. */
  close(): void {
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    for (const p of this.#pending.values()) p.reject(new NriClosedError(p.method));
    this.#pending.clear();
  }

  #write(bytes: Uint8Array): void {
    this.#writeChain = this.#writeChain.then(async () => {
      if (this.#closed) return;
      let off = 0;
      try {
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      } catch {
        // The read loop sees the broken socket and ends the session.
        this.#shutdown();
      }
    });
  }

  #onServerMessage(m: TtrpcMessage): void {
    if (m.type !== TYPE_REQUEST) {
      throw new NriProtocolError(
        "bad-message",
        PLUGIN_SERVICE_CONN,
        `message type ${m.type} on the plugin service`,
      );
    }
    if ((m.streamId & 1) === 0 || m.streamId <= this.#lastRequestStream) {
      // As the Go ttrpc server does: refuse, but keep the connection.
      this.#reply(m.streamId, {
        code: Code.INVALID_ARGUMENT,
        message: "StreamID must be odd and increasing",
      });
      return;
    }
    this.#lastRequestStream = m.streamId;
    const req = decodeRequestBody(m.body, PLUGIN_SERVICE_CONN);
    const reply = this.handler(req);
    this.#reply(m.streamId, reply);
    if (reply.after) this.#afterQueue.push(reply.after);
  }

  #reply(streamId: number, r: ServerReply): void {
    const body = encodeResponseBody(
      r.payload ?? new Uint8Array(0),
      r.code ?? Code.OK,
      r.message ?? "",
    );
    this.#write(encodeFrames(PLUGIN_SERVICE_CONN, encodeMessage(streamId, TYPE_RESPONSE, body)));
  }

  #onClientMessage(m: TtrpcMessage): void {
    if (m.type !== TYPE_RESPONSE) {
      throw new NriProtocolError(
        "bad-message",
        RUNTIME_SERVICE_CONN,
        `message type ${m.type} on the runtime service`,
      );
    }
    const p = this.#pending.get(m.streamId);
    if (!p) return; // a late reply to a call we gave up on
    this.#pending.delete(m.streamId);
    const r = decodeResponseBody(m.body, RUNTIME_SERVICE_CONN);
    if (r.code === Code.OK) p.resolve(new Uint8Array(r.payload)); // copy: the view is reused
    else p.reject(new NriRpcError(p.service, p.method, r.code, r.message));
  }
}
