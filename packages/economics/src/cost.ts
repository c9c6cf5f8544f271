import { SrpError } from "@streamrp2p/protocol";
import { DEFAULT_RATES, ECONOMICS_DEFAULTS, type Rates } from "./defaults.ts";
import type { Currency, InstanceProfile } from "./profiles.ts";

/** USD per unit of `currency` at the given rates. */
export function usdPer(currency: Currency, rates: Rates = DEFAULT_RATES): number {
  return currency === "USD" ? 1 : rates.usdPerEur;
}

function checkGb(gb: number): void {
  if (!Number.isFinite(gb) || gb < 0)
    throw new SrpError("VALIDATION_FAILED", `egress must be a finite number of GB ≥ 0 (got ${gb})`);
}

/**
 * What a month's egress of `gb` GB costs on this profile beyond its list
 * price, in USD: the GB past the included amount at the overage price.
 */
export function egressCostUsd(profile: InstanceProfile, gb: number, rates: Rates = DEFAULT_RATES): number {
  checkGb(gb);
  return Math.max(0, gb - profile.includedGb) * profile.overagePerGb * usdPer(profile.currency, rates);
}

/** What the node costs in a month that serves `egressGbPerMonth` GB, in USD: list price plus overage. */
export function nodeMonthlyCostUsd(
  profile: InstanceProfile,
  egressGbPerMonth: number,
  rates: Rates = DEFAULT_RATES,
): number {
  return profile.monthly * usdPer(profile.currency, rates) + egressCostUsd(profile, egressGbPerMonth, rates);
}

/**
 * The egress (GB per month) a monthly budget pays for on this profile, in the
 * profile's currency: included traffic plus what is left of the budget at the
 * overage price. The same rule the Terraform modules use to size `capacity_mbps`.
 */
export function egressWithinBudgetGb(profile: InstanceProfile, monthlyBudget: number): number {
  if (monthlyBudget < profile.monthly) return 0;
  return profile.includedGb + (monthlyBudget - profile.monthly) / profile.overagePerGb;
}

/**
 * One epoch of a node, USD, for a simulator that steps epoch by epoch: the
 * epoch's share of the list price (a month is `ECONOMICS_DEFAULTS.hoursPerMonth`)
 * plus the overage this epoch's egress adds to what the billing month already
 * sent. A month of epochs sums to `nodeMonthlyCostUsd` of the month's egress.
 */
export function epochCostUsd(
  profile: InstanceProfile,
  egressGbBefore: number,
  egressGbThisEpoch: number,
  epochMinutes: number,
  rates: Rates = DEFAULT_RATES,
): number {
  if (!(epochMinutes > 0))
    throw new SrpError("VALIDATION_FAILED", `epoch length must be > 0 minutes (got ${epochMinutes})`);
  checkGb(egressGbThisEpoch);
  const share = epochMinutes / (ECONOMICS_DEFAULTS.hoursPerMonth * 60);
  const overage =
    egressCostUsd(profile, egressGbBefore + egressGbThisEpoch, rates) -
    egressCostUsd(profile, egressGbBefore, rates);
  return profile.monthly * usdPer(profile.currency, rates) * share + overage;
}
