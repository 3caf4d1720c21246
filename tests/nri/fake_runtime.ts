/**
 * A runtime-side NRI peer for tests and the benchmark: listens on a unix socket, takes the
 * plugin's RegisterPlugin on conn 2 and calls Plugin methods on conn 1. Used where containerd
 * cannot produce the input: malformed bytes, split Synchronize, replayed large syncs.
 */
import { encodeFrames, MuxDecoder } from "../../lib/nri/mux.ts";
import {
  decodeRequestBody,
  decodeResponseBody,
  encodeMessage,
  encodeRequestBody,
  TtrpcReassembler,
  TtrpcRequest,
  TtrpcResponse,
} from "../../lib/nri/ttrpc.ts";
import { PLUGIN_SERVICE } from "../../lib/nri/plugin.ts";
import { nriTypes } from "../../lib/nri/proto.ts";

/** One accepted plugin connection, seen from the runtime. */
export class FakePeer {
  #conn: Deno.Conn;
  #next = 1;
  #pending = new Map<number, (r: TtrpcResponse) => void>();
  #requests: TtrpcRequest[] = [];
  #requestWaiters: ((r: TtrpcRequest) => void)[] = [];
  /** Resolves when the plugin closes the connection. */
  readonly closed: Promise<void>;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const c1 = new TtrpcReassembler(1, (m) => {
      const r = decodeResponseBody(m.body, 1);
      const fn = this.#pending.get(m.streamId);
      this.#pending.delete(m.streamId);
      fn?.({ ...r, payload: new Uint8Array(r.payload) });
    });
    const c2 = new TtrpcReassembler(2, (m) => {
      const req = decodeRequestBody(m.body, 2);
      const copy = { ...req, payload: new Uint8Array(req.payload) };
      // Answer RegisterPlugin at once, as containerd does.
      this.write(encodeFrames(2, encodeMessage(m.streamId, 2, new Uint8Array(0))));
      const w = this.#requestWaiters.shift();
      if (w) w(copy);
      else this.#requests.push(copy);
    });
    const mux = new MuxDecoder((id, p) => (id === 1 ? c1 : c2).push(p));
    this.closed = (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          mux.push(buf.subarray(0, n));
        }
      } catch { /* closed */ }
    })();
  }

  /** The next request the plugin sent on conn 2 (RegisterPlugin first). */
  nextRequest(): Promise<TtrpcRequest> {
    const r = this.#requests.shift();
    return r ? Promise.resolve(r) : new Promise((res) => this.#requestWaiters.push(res));
  }

  /** Calls a Plugin method on conn 1 and waits for the reply. */
  call(method: string, payload: Uint8Array): Promise<TtrpcResponse> {
    const sid = this.#next;
    this.#next += 2;
    const msg = encodeMessage(sid, 1, encodeRequestBody(PLUGIN_SERVICE, method, payload));
    const p = new Promise<TtrpcResponse>((res) => this.#pending.set(sid, res));
    this.write(encodeFrames(1, msg));
    return p;
  }

  /** Calls any service/method (to test UNIMPLEMENTED). */
  callRaw(service: string, method: string, payload: Uint8Array): Promise<TtrpcResponse> {
    const sid = this.#next;
    this.#next += 2;
    const p = new Promise<TtrpcResponse>((res) => this.#pending.set(sid, res));
    this.write(encodeFrames(1, encodeMessage(sid, 1, encodeRequestBody(service, method, payload))));
    return p;
  }

  /** Runs the startup as containerd does: Configure, then Synchronize; returns the mask. */
  async handshake(sync: { pods?: unknown[]; containers?: unknown[] } = {}): Promise<number> {
    const cfg = await this.call(
      "Configure",
      nriTypes.ConfigureRequest.encode({ runtimeName: "fake", runtimeVersion: "0" }).finish(),
    );
    const events = (nriTypes.ConfigureResponse.decode(cfg.payload) as unknown as { events: number })
      .events;
    await this.call("Synchronize", nriTypes.SynchronizeRequest.encode(sync).finish());
    return events;
  }

  /** Writes raw bytes (serialised with other writes). */
  write(bytes: Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      let off = 0;
      try {
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      } catch { /* plugin went away */ }
    });
    return this.#chain;
  }
  #chain: Promise<void> = Promise.resolve();

  /** Closes the connection from the runtime side. */
  async close(): Promise<void> {
    await this.#chain;
    try {
      this.#conn.close();
    } catch { /* already */ }
    await this.closed;
  }
}

/** A listening fake runtime. */
export class FakeRuntime {
  readonly dir: string;
  readonly path: string;
  #listener: Deno.Listener;
  #peers: FakePeer[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.path = `${dir}/nri.sock`;
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
  }

  /** Starts listening on a socket in a fresh temp dir. */
  static start(): FakeRuntime {
    return new FakeRuntime(Deno.makeTempDirSync({ prefix: "podperf-nri-" }));
  }

  /** Waits for the plugin's next connection. */
  async accept(): Promise<FakePeer> {
    const p = new FakePeer(await this.#listener.accept());
    this.#peers.push(p);
    return p;
  }

  /** Closes every peer, the listener and the temp dir. */
  async close(): Promise<void> {
    for (const p of this.#peers) await p.close();
    try {
      this.#listener.close();
    } catch { /* already */ }
    Deno.removeSync(this.dir, { recursive: true });
  }
}
