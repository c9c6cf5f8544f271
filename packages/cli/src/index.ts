export { DEPLOY_TARGETS, deployArtifacts, vmRelayConfig, writeArtifacts } from "./deploy/artifacts.ts";
export { cloudInit } from "./deploy/cloud-init.ts";
export { PROVIDERS, userDataTemplate } from "./deploy/terraform.ts";
export {
  DEV_ECONOMY_DEFAULTS,
  DEV_ROLES,
  type DevEconomy,
  type DevEconomyOptions,
  startDevEconomy,
} from "./dev-economy.ts";
export {
  LOCAL_NETWORK_DEFAULTS,
  type LocalNetwork,
  type LocalNetworkOptions,
  startLocalNetwork,
} from "./local-network.ts";
export { keyFileOf, loadNodeConfig, renderNodeConfig, writeNodeConfig } from "./node-config.ts";
export { startTestSource, type TestSourceOptions } from "./test-source.ts";
