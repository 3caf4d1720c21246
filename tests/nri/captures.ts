/** The hex captures of NRI-FACTS §14 (containerd 1.7.24 / NRI v0.6.1), rebuilt byte for byte. */
import { cat, hex, ld, mapEntry, ttrpcMsg, vf } from "./wire.ts";

/** RegisterPlugin {proto, 50}: mux conn 2, stream 1; exact raw capture. */
export const REGISTER_PLUGIN_PROTO_50 = hex(
  "00000002000000450000003b0000000101000a1c6e72692e706b672e6170692e7631616c706861312e52756e74696d65" +
    "120e5265676973746572506c7567696e1a0b0a0570726f746f12023530",
);

/** RegisterPlugin OK reply: conn 2, empty body. */
export const REGISTER_OK = hex("00000002 0000000a 00000000 00000001 02 00");

/** The Configure request body (ttrpc Request). */
export const CONFIGURE_BODY = cat(
  ld(1, "nri.pkg.api.v1alpha1.Plugin"),
  ld(2, "Configure"),
  ld(3, cat(ld(2, "containerd"), ld(3, "1.7.24~ds1"))),
  hex("20 aac8d0b907"),
);

/** Configure as framed on the wire: conn 1, stream 1. */
export const CONFIGURE_FRAME = cat(hex("00000001 00000052"), ttrpcMsg(1, 1, CONFIGURE_BODY));

/** Configure reply with events = 0x7FF, exact bytes. */
export const CONFIGURE_REPLY_7FF = hex(
  "00000001 00000011 00000007 00000001 02 00 0a 00 12 03 10 ff 0f",
);

/** Synchronize reply, exact bytes. */
export const SYNCHRONIZE_REPLY = hex("00000001 0000000c 00000002 00000003 02 00 0a 00");

/** Error status body from the runtime for a bad plugin index. */
export const BAD_INDEX_STATUS_BODY = cat(
  ld(1, cat(vf(1, 2), ld(2, 'invalid plugin index: invalid plugin index "5", must be 2 digits'))),
);

/** Error status body for an even stream id. */
export const EVEN_SID_STATUS_BODY = cat(
  ld(1, cat(vf(1, 3), ld(2, "StreamID must be odd for client initiated streams"))),
);

/** The pod of the Synchronize capture (head and tail as captured; middle rebuilt from §10). */
export function capturedPod(id = "fa11e2dd".padEnd(64, "0") + "", pid = 6792): Uint8Array {
  return cat(
    ld(1, id),
    ld(2, "web-1"),
    ld(3, "uid-123"),
    ld(4, "shop"),
    mapEntry(5, "io.cri-containerd.kind", "sandbox"),
    mapEntry(6, "io.kubernetes.cri.sandbox-id", id),
    ld(
      8,
      cat(
        ld(4, `/k8s.io/${id}`),
        ld(5, ld(1, "pid")),
        ld(5, ld(1, "ipc")),
        ld(5, ld(1, "mount")),
        ld(6, cat(ld(2, ld(1, vf(1, 2))), ld(7, ld(5, "rwm")))),
      ),
    ),
    vf(9, pid),
  );
}
