/** The protobuf types of NRI and ttrpc, parsed once from the .proto text embedded at build time. */
import protobuf from "protobufjs";
import nriSrc from "../../proto/nri.proto" with { type: "text" };
import ttrpcSrc from "../../proto/ttrpc.proto" with { type: "text" };

const nri = protobuf.parse(nriSrc).root;
const ttrpc = protobuf.parse(ttrpcSrc).root;

/** NRI message types by short name, e.g. `nriTypes.ConfigureResponse`. */
export const nriTypes = {
  Empty: nri.lookupType("nri.pkg.api.v1alpha1.Empty"),
  RegisterPluginRequest: nri.lookupType("nri.pkg.api.v1alpha1.RegisterPluginRequest"),
  ConfigureRequest: nri.lookupType("nri.pkg.api.v1alpha1.ConfigureRequest"),
  ConfigureResponse: nri.lookupType("nri.pkg.api.v1alpha1.ConfigureResponse"),
  SynchronizeRequest: nri.lookupType("nri.pkg.api.v1alpha1.SynchronizeRequest"),
  SynchronizeResponse: nri.lookupType("nri.pkg.api.v1alpha1.SynchronizeResponse"),
  StateChangeEvent: nri.lookupType("nri.pkg.api.v1alpha1.StateChangeEvent"),
  StopContainerRequest: nri.lookupType("nri.pkg.api.v1alpha1.StopContainerRequest"),
  CreateContainerRequest: nri.lookupType("nri.pkg.api.v1alpha1.CreateContainerRequest"),
  UpdateContainerRequest: nri.lookupType("nri.pkg.api.v1alpha1.UpdateContainerRequest"),
  PodSandbox: nri.lookupType("nri.pkg.api.v1alpha1.PodSandbox"),
  Container: nri.lookupType("nri.pkg.api.v1alpha1.Container"),
};

/** ttrpc envelope types. */
export const ttrpcTypes = {
  Request: ttrpc.lookupType("ttrpc.Request"),
  Response: ttrpc.lookupType("ttrpc.Response"),
};

/** The parsed roots, for tests that walk every declared field. */
export const protoRoots = { nri, ttrpc };

/** Decoded NRI PodSandbox (only the fields podperf declares). */
export interface NriPod {
  id: string;
  name: string;
  uid: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: { cgroupParent: string; cgroupsPath: string } | null;
  pid: number;
}

/** Decoded NRI Container (only the fields podperf declares). */
export interface NriContainer {
  id: string;
  podSandboxId: string;
  name: string;
  state: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: { cgroupsPath: string } | null;
  pid: number;
}

/** NRI events (enum Event, v0.6.1 values). */
export const NriEvent = {
  RUN_POD_SANDBOX: 1,
  STOP_POD_SANDBOX: 2,
  REMOVE_POD_SANDBOX: 3,
  CREATE_CONTAINER: 4,
  POST_CREATE_CONTAINER: 5,
  START_CONTAINER: 6,
  POST_START_CONTAINER: 7,
  UPDATE_CONTAINER: 8,
  POST_UPDATE_CONTAINER: 9,
  STOP_CONTAINER: 10,
  REMOVE_CONTAINER: 11,
} as const;

/** Subscription mask bit of an event: `1 << (value - 1)`. */
export function eventBit(event: number): number {
  return 1 << (event - 1);
}

/** Turns a decoded message into plain data with defaults filled, so absent strings read as "". */
export function toPlain<T>(type: protobuf.Type, msg: protobuf.Message): T {
  return type.toObject(msg, { defaults: true, longs: Number, enums: Number }) as T;
}
