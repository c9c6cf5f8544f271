export {
  LOCAL_NETWORK_DEFAULTS,
  type LocalNetwork,
  type LocalNetworkOptions,
  startLocalNetwork,
} from "./local-network.ts";
export { startTestSource, type TestSourceOptions } from "./test-source.ts";
