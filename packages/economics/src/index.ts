export { breakEvenGb, viewerGb } from "./break-even.ts";
export { EPOCH_PARAMS, type FakeAudience, fakeAudienceCredit, sitesToEscapeCollusionRule } from "./caps.ts";
export { egressCostUsd, egressWithinBudgetGb, epochCostUsd, nodeMonthlyCostUsd, usdPer } from "./cost.ts";
export { DEFAULT_RATES, ECONOMICS_DEFAULTS, type Rates } from "./defaults.ts";
export {
  breakEvenViewers,
  type OperatorMonth,
  operatorMonth,
  operatorNetAt,
  scenarioProfile,
} from "./operator.ts";
export {
  type Currency,
  defaultProfiles,
  findProfile,
  type InstanceProfile,
  type Provider,
  profilesOf,
} from "./profiles.ts";
export { epochRewards, fromBaseUnits, type NodeCredit, type NodeReward, toBaseUnits } from "./reward.ts";
export { type Scenario, type ScenarioInput, ScenarioSchema } from "./scenario.ts";
export {
  type BreakEvenRow,
  breakEvenTable,
  docTables,
  fakeAudienceTable,
  fillDoc,
  netCurveTable,
  TABLE_REWARDS_USD_PER_TB,
  viewersTable,
} from "./table.ts";
