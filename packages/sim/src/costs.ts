/**
 * What running a node costs, for attacker profit. The figures belong to the
 * economics model (`@streamrp2p/economics`: instance profiles, egress
 * overage, stake yield); this file is the one place the simulator reads them
 * through, so switching to that package changes nothing else.
 */
export interface CostProfile {
  /** List price per month, USD. */
  monthlyUsd: number;
  /** Egress included per month, GB. */
  includedGb: number;
  /** USD per GB beyond the included amount. */
  overageUsdPerGb: number;
}

export interface CostModel {
  profile: CostProfile;
  /** USD staked per node. */
  stakeUsd: number;
  /** Opportunity cost of stake, per year. */
  stakeYieldPerYear: number;
  /** USD per month for an attacker's block of viewer addresses (a /24 or a /48). */
  addressBlockMonthlyUsd: number;
}

/** Defaults: a 4 GB / 2 vCPU cloud instance with 4 TB included, 0.01 USD/GB past it; 100 USD stake. */
export const DEFAULT_COSTS: CostModel = {
  profile: { monthlyUsd: 24, includedGb: 4_000, overageUsdPerGb: 0.01 },
  stakeUsd: 100,
  stakeYieldPerYear: 0.05,
  addressBlockMonthlyUsd: 50,
};

const MONTH_MS = 30 * 24 * 60 * 60_000;
const YEAR_MS = 365 * 24 * 60 * 60_000;

/** Cost of one node over `durationMs` that sent `bytes`: its month prorated, overage on the month's pace, stake yield. */
export function nodeCostUsd(c: CostModel, durationMs: number, bytes: number): number {
  const months = durationMs / MONTH_MS;
  const gbPerMonth = bytes / 1e9 / Math.max(months, 1e-9);
  const monthly =
    c.profile.monthlyUsd + Math.max(0, gbPerMonth - c.profile.includedGb) * c.profile.overageUsdPerGb;
  return monthly * months + c.stakeUsd * c.stakeYieldPerYear * (durationMs / YEAR_MS);
}

export function addressBlockCostUsd(c: CostModel, durationMs: number): number {
  return (c.addressBlockMonthlyUsd * durationMs) / MONTH_MS;
}
