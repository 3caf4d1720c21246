/** Typed errors of the NRI transport and plugin layers. */

/** What went wrong with bytes received from the runtime. */
export type NriProtocolFault =
  | "oversized-frame"
  | "unknown-conn"
  | "truncated"
  | "bad-message"
  | "undecodable"
  | "backlog"
  | "deadline";

/**
 * The peer sent bytes that break the mux/ttrpc/NRI protocol; the session is dropped and the
 * plugin reconnects.
 */
export class NriProtocolError extends Error {
  override name = "NriProtocolError";
  constructor(
    /** Which rule the bytes broke. */
    readonly fault: NriProtocolFault,
    /** Mux connection id the bytes arrived on (0 when not known). */
    readonly connId: number,
    detail: string,
  ) {
    super(`NRI protocol error (${fault}) on conn ${connId}: ${detail}`);
  }
}

/** A ttrpc call answered with a non-OK status. */
export class NriRpcError extends Error {
  override name = "NriRpcError";
  constructor(
    /** Full service name called. */
    readonly service: string,
    /** Method called. */
    readonly method: string,
    /** gRPC status code (2 UNKNOWN, 12 UNIMPLEMENTED, …). */
    readonly code: number,
    /** Status message from the peer. */
    readonly statusMessage: string,
  ) {
    super(`${service}/${method} failed with status ${code}: ${statusMessage}`);
  }
}

/** The session closed while calls were still waiting for their reply. */
export class NriClosedError extends Error {
  override name = "NriClosedError";
  constructor(readonly method: string) {
    super(`NRI connection closed before ${method} was answered`);
  }
}
