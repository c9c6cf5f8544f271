export { distributorAbi, fraudAbi } from "./abis.ts";
export { type DevChain, startDevChain } from "./anvil.ts";
export { chainAt, publicClient, type Wallet, wallet } from "./clients.ts";
export {
  CONSENT_TTL_SECONDS,
  type Consent,
  poolIdOf,
  signNodeConsent,
  signPoolConsent,
} from "./consent.ts";
export { type Deployment, type DeployOptions, deployContracts } from "./deploy.ts";
export { deploymentDomain, segmentStruct } from "./fraud.ts";
export { type CreditWeight, computePayout, cumulate, type NodeSplit, type Payout } from "./rewards.ts";
