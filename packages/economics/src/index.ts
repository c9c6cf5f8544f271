export { egressCostUsd, egressWithinBudgetGb, nodeMonthlyCostUsd, usdPer } from "./cost.ts";
export { DEFAULT_RATES, ECONOMICS_DEFAULTS, type Rates } from "./defaults.ts";
export {
  type Currency,
  defaultProfiles,
  findProfile,
  type InstanceProfile,
  type Provider,
  profilesOf,
} from "./profiles.ts";
