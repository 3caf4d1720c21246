/** NRI: the plugin that learns pod and container metadata from the container runtime. */
export {
  DEFAULT_NRI_SOCKET,
  type NriPluginHandle,
  type NriPluginStartOptions,
  startNriPlugin,
} from "./client.ts";
export { EVENT_MASK, PLUGIN_SERVICE, RUNTIME_SERVICE } from "./plugin.ts";
export { NriClosedError, NriProtocolError, type NriProtocolFault, NriRpcError } from "./errors.ts";
export {
  formatPods,
  NriUnavailableError,
  type PodsCommandOptions,
  type PodsEntry,
  runPodsCommand,
} from "./pods_command.ts";
