import {
  ECONOMICS_DEFAULTS,
  findProfile,
  type InstanceProfile,
  nodeMonthlyCostUsd,
} from "@streamrp2p/economics";

/**
 * What running a node costs, for attacker profit, from the economics model
 * (`@streamrp2p/economics`: instance profiles with their included egress and
 * overage, stake yield). The simulator adds only what that model leaves to a
 * scenario: the stake per node and the price of an attacker's address block.
 */
export interface CostModel {
  profile: InstanceProfile;
  /** USD staked per node. */
  stakeUsd: number;
  /** Opportunity cost of stake, per year. */
  stakeYieldPerYear: number;
  /** USD per month for an attacker's block of viewer addresses (a /24 or a /48). */
  addressBlockMonthlyUsd: number;
}

/** A 2 vCPU / 4 GB DigitalOcean droplet (4 TB included), 100 USD stake, 50 USD a month per address block. */
export const DEFAULT_COSTS: CostModel = {
  profile: findProfile("digitalocean", "s-2vcpu-4gb"),
  stakeUsd: 100,
  stakeYieldPerYear: ECONOMICS_DEFAULTS.stakeYieldPerYear,
  addressBlockMonthlyUsd: 50,
};

const MONTH_MS = ECONOMICS_DEFAULTS.hoursPerMonth * 60 * 60_000;
const YEAR_MS = 365 * 24 * 60 * 60_000;

/** Cost of one node over `durationMs` that sent `bytes`: its month (list price, overage at this pace) prorated, stake yield. */
export function nodeCostUsd(c: CostModel, durationMs: number, bytes: number): number {
  const months = durationMs / MONTH_MS;
  const gbPerMonth = bytes / ECONOMICS_DEFAULTS.bytesPerGb / Math.max(months, 1e-9);
  return (
    nodeMonthlyCostUsd(c.profile, gbPerMonth) * months +
    c.stakeUsd * c.stakeYieldPerYear * (durationMs / YEAR_MS)
  );
}

export function addressBlockCostUsd(c: CostModel, durationMs: number): number {
  return (c.addressBlockMonthlyUsd * durationMs) / MONTH_MS;
}
