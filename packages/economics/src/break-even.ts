import { nodeMonthlyCostUsd, usdPer } from "./cost.ts";
import { DEFAULT_RATES, type Rates } from "./defaults.ts";
import type { InstanceProfile } from "./profiles.ts";

/**
 * GB a month the node must serve to pay for itself when each GB earns
 * `rewardUsdPerGb`, on top of `extraMonthlyUsd` of other monthly costs (the
 * stake's opportunity cost). Solves `reward × gb = nodeMonthlyCostUsd(gb) + extra`
 * on the piecewise-linear cost: Infinity when no amount of traffic pays
 * (the reward per GB does not beat the overage price past the included egress).
 */
export function breakEvenGb(
  profile: InstanceProfile,
  rewardUsdPerGb: number,
  extraMonthlyUsd = 0,
  rates: Rates = DEFAULT_RATES,
): number {
  const fixed = nodeMonthlyCostUsd(profile, 0, rates) + extraMonthlyUsd;
  if (fixed <= 0) return 0;
  if (!(rewardUsdPerGb > 0)) return Number.POSITIVE_INFINITY;
  const withinIncluded = fixed / rewardUsdPerGb;
  if (withinIncluded <= profile.includedGb) return withinIncluded;
  const overage = profile.overagePerGb * usdPer(profile.currency, rates);
  if (rewardUsdPerGb <= overage) return Number.POSITIVE_INFINITY;
  // Past the included egress each GB nets reward − overage.
  return profile.includedGb + (fixed - rewardUsdPerGb * profile.includedGb) / (rewardUsdPerGb - overage);
}

/** GB served in a month by `viewers` concurrent viewers at `bitrateMbps` for `liveHours` hours. */
export function viewerGb(viewers: number, bitrateMbps: number, liveHours: number): number {
  return (viewers * bitrateMbps * 1e6 * liveHours * 3600) / 8 / 1e9;
}
