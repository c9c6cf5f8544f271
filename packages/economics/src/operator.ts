import { breakEvenGb, viewerGb } from "./break-even.ts";
import { egressCostUsd, nodeMonthlyCostUsd, usdPer } from "./cost.ts";
import { defaultProfiles, findProfile, type InstanceProfile } from "./profiles.ts";
import { epochRewards } from "./reward.ts";
import type { Scenario } from "./scenario.ts";

export interface OperatorMonth {
  profile: InstanceProfile;
  /** Epochs a month the stream is live (each draws the budget once). */
  liveEpochs: number;
  /** GB viewers signed for (what earns), and GB the node sends (what costs: viewers + child relays). */
  servedGb: number;
  egressGb: number;
  cost: { instanceUsd: number; overageUsd: number; stakeUsd: number; totalUsd: number };
  reward: {
    /** The node's whole reward, its operator's part and its backers' part, tokens a month. */
    tokens: number;
    operatorTokens: number;
    backerTokens: number;
    operatorUsd: number;
    backerUsd: number;
  };
  /** What the operator keeps a month after costs (backers' payments in, their shares out), USD. */
  operatorNetUsd: number;
  /** What backers get back a month over what they pay, USD. */
  backerNetUsd: number;
  /** The node's reward per GB it served, USD (0 when it served nothing). */
  rewardUsdPerGb: number;
  paysForItself: boolean;
  breakEven: {
    /** Fewest concurrent viewers this node must serve (others unchanged) to pay for itself; null: none will. */
    viewers: number | null;
    /** GB a month that pays for the node at today's reward per GB to the operator; Infinity: never. */
    gbAtThisRate: number;
  };
}

const MAX_VIEWERS = 10_000_000; // the break-even search stops here: more is not one node's audience

/** The profile a scenario names (default size: the one the Terraform module defaults to). */
export function scenarioProfile(s: Scenario, table: readonly InstanceProfile[] = defaultProfiles) {
  const size = s.size ?? (s.provider === "hetzner" ? "cx22" : "s-1vcpu-1gb");
  return findProfile(s.provider, size, s.region, table);
}

/**
 * An operator's month: what the node costs (instance, overage, stake's
 * opportunity cost) and earns (its share of each live epoch's budget, through
 * the settler's arithmetic, split with its backers). Steady state: every live
 * epoch looks alike. Pure.
 */
export function operatorMonth(
  s: Scenario,
  table: readonly InstanceProfile[] = defaultProfiles,
): OperatorMonth {
  const profile = scenarioProfile(s, table);
  const month = evaluate(s, profile, s.viewers);
  const perGbOperator = month.servedGb > 0 ? month.reward.operatorUsd / month.servedGb : 0;
  return {
    ...month,
    breakEven: {
      viewers: breakEvenViewers(s, profile),
      gbAtThisRate: breakEvenGb(profile, perGbOperator, month.cost.stakeUsd - s.backerPaysUsd, {
        usdPerEur: s.usdPerEur,
      }),
    },
  };
}

function evaluate(s: Scenario, profile: InstanceProfile, viewers: number): Omit<OperatorMonth, "breakEven"> {
  const rates = { usdPerEur: s.usdPerEur };
  const liveEpochs = (s.liveHoursPerMonth * 60) / s.epochMinutes;
  const epochBytes = (v: number) => (v * s.bitrateMbps * 1e6 * s.epochMinutes * 60) / 8;
  const [me] = epochRewards(s.budgetPerEpoch, [
    { nodeId: "me", creditedBytes: epochBytes(viewers), quality: s.quality, backerBps: s.backerBps },
    { nodeId: "others", creditedBytes: epochBytes(s.otherViewers), quality: s.otherQuality },
  ]);
  const tokens = (me?.tokens ?? 0) * liveEpochs;
  const operatorTokens = (me?.operatorTokens ?? 0) * liveEpochs;
  const backerTokens = (me?.backerTokens ?? 0) * liveEpochs;
  const servedGb = viewerGb(viewers, s.bitrateMbps, s.liveHoursPerMonth);
  const egressGb = viewerGb(viewers + s.relayChildren, s.bitrateMbps, s.liveHoursPerMonth);
  const instanceUsd = profile.monthly * usdPer(profile.currency, rates);
  const overageUsd = egressCostUsd(profile, egressGb, rates);
  const stakeUsd = (s.stake * s.tokenUsd * s.stakeYieldPerYear) / 12; // the yield it forgoes a month
  const totalUsd = nodeMonthlyCostUsd(profile, egressGb, rates) + stakeUsd;
  const operatorUsd = operatorTokens * s.tokenUsd;
  const backerUsd = backerTokens * s.tokenUsd;
  const operatorNetUsd = operatorUsd + s.backerPaysUsd - totalUsd;
  return {
    profile,
    liveEpochs,
    servedGb,
    egressGb,
    cost: { instanceUsd, overageUsd, stakeUsd, totalUsd },
    reward: { tokens, operatorTokens, backerTokens, operatorUsd, backerUsd },
    operatorNetUsd,
    backerNetUsd: backerUsd - s.backerPaysUsd,
    rewardUsdPerGb: servedGb > 0 ? (tokens * s.tokenUsd) / servedGb : 0,
    paysForItself: operatorNetUsd >= 0,
  };
}

/** The operator's net a month with `viewers` concurrent viewers on this node, everything else as in `s`. */
export function operatorNetAt(s: Scenario, profile: InstanceProfile, viewers: number): number {
  return evaluate(s, profile, viewers).operatorNetUsd;
}

/**
 * Fewest whole concurrent viewers at which the operator's net is ≥ 0. The
 * net is concave in viewers (a share v/(v+others) of a fixed budget, minus a
 * convex piecewise-linear cost), so: find its peak by ternary search, then
 * the first viewer count at or past zero on the rising side.
 */
export function breakEvenViewers(s: Scenario, profile: InstanceProfile): number | null {
  const net = (v: number) => operatorNetAt(s, profile, v);
  let lo = 0;
  let hi = MAX_VIEWERS;
  while (hi - lo > 2) {
    const m1 = lo + Math.floor((hi - lo) / 3);
    const m2 = hi - Math.floor((hi - lo) / 3);
    if (net(m1) < net(m2)) lo = m1 + 1;
    else hi = m2 - 1;
  }
  let peak = lo;
  for (let v = lo + 1; v <= hi; v++) if (net(v) > net(peak)) peak = v;
  if (net(peak) < 0) return null;
  let a = 0;
  let b = peak; // net(b) ≥ 0
  if (net(a) >= 0) return 0;
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (net(m) >= 0) b = m;
    else a = m;
  }
  return b;
}
