import { EPOCH_PARAMS } from "@streamrp2p/coordinator";
import { addressBlockCostUsd, type CostModel, DEFAULT_COSTS, nodeCostUsd } from "./costs.ts";
import { MICRO } from "./epochs.ts";
import type { Scenario } from "./scenario.ts";
import type { RunStats, Simulation } from "./simulation.ts";

export interface Outcomes {
  name: string;
  attack: Scenario["attack"]["kind"];
  nodes: number;
  attackerNodes: number;
  /** Of all rewards paid. */
  attackerRewardShare: number;
  /** Of all bytes honest viewers received intact. */
  attackerHonestByteShare: number;
  attackerRewardUsd: number;
  attackerCostUsd: number;
  attackerProfitUsd: number;
  /** Rewards beyond the attacker's share of honest bytes (what the attack itself brought in), USD. */
  attackGainUsd: number;
  /** That gain minus what only the attack costs (address blocks for fake viewers, slashed stake). */
  attackProfitUsd: number;
  /** Bytes credited to attacker nodes beyond what they served honest viewers. */
  attackerExcessCreditBytes: number;
  /** What the per-identity cap lets one address block be credited over the run. */
  identityCapBytes: number;
  totalRewardUsd: number;
  honestStallRatio: number;
  startupP50Ms: number;
  startupP95Ms: number;
  failoversPerSession: number;
  sessions: number;
  fakeSessions: number;
  fakeTicketsRefused: number;
  provenTamperPairs: number;
  /** capacity-lie: share of ingest slots liars held at the end, vs their share of ingest-capable nodes. */
  liarIngestShare: number | undefined;
  liarIngestCapableShare: number | undefined;
  ingestEgressGB: number;
  originEgressGB: number;
  totalEgressGB: number;
  epochs: Array<{
    epoch: number;
    sessions: number;
    receipts: number;
    computeMs: number;
    withheldGB: number;
    paidUsd: number;
  }>;
  work: {
    heartbeatsPerEpoch: number;
    routeRequestsPerEpoch: number;
    upstreamChoicesPerEpoch: number;
    probesPerEpoch: number;
    receiptsPerEpoch: number;
    realReceiptsVerified: number;
    verifyUsPerReceipt: number;
    epochComputeMsMax: number;
  };
  wallMs: number;
  peakRssMiB: number;
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};

export function outcomesOf(sim: Simulation, stats: RunStats, costs: CostModel = DEFAULT_COSTS): Outcomes {
  const s = sim.s;
  const attackers = sim.nodes.filter((n) => n.attacker);
  const totalReward = sim.nodes.reduce((a, n) => a + n.rewardMicro, 0n);
  const attackerReward = attackers.reduce((a, n) => a + n.rewardMicro, 0n);
  const honestBytes = sim.nodes.reduce((a, n) => a + n.honestBytes, 0);
  const attackerHonest = attackers.reduce((a, n) => a + n.honestBytes, 0);
  const ids = new Set(attackers.map((n) => n.id));
  let credited = 0;
  for (const e of stats.epochs) for (const c of e.credits) if (ids.has(c.nodeId)) credited += c.creditedBytes;
  const proven = sim.model.tamper.provenPairs();
  const provenNodes = new Set(proven.map(([n]) => n));
  const slashed = attackers.filter((n) => provenNodes.has(n.id)).length * costs.stakeUsd;
  const blocks = s.attack.kind === "fake-viewers" ? addressBlockCostUsd(costs, s.durationMs) : 0;
  const cost =
    attackers.reduce((a, n) => a + nodeCostUsd(costs, s.durationMs, n.bytesSent), 0) + slashed + blocks;
  const stream = sim.streams[0];
  const epochBytes = stream
    ? (stream.bitrateBps * (s.coordinator.epochMs + EPOCH_PARAMS.lookbackMs)) / 8000
    : 0;
  const epochs = stats.epochs.length;
  let liarIngestShare: number | undefined;
  let liarIngestCapableShare: number | undefined;
  if (s.attack.kind === "capacity-lie") {
    const slots = sim.streams.flatMap((st) => st.row.ingest);
    liarIngestShare =
      slots.filter((id) => sim.model.node(id)?.role === "liar").length / Math.max(1, slots.length);
    const capable = sim.nodes.filter((n) => n.ingest);
    liarIngestCapableShare = capable.filter((n) => n.role === "liar").length / Math.max(1, capable.length);
  }
  const per = (x: number) => x / Math.max(1, epochs);
  const rewardUsd = Number(attackerReward) / MICRO;
  const honestShare = honestBytes === 0 ? 0 : attackerHonest / honestBytes;
  const excess = Math.max(0, credited - attackerHonest);
  // Fake viewers: the gain is what the credit for bytes nobody received paid (the attacker's
  // rewards in proportion). Comparing its rewards with its share of honest bytes would also
  // count how its honest bytes were weighted (reputation, which streams), which no fake
  // receipt changes. Other attacks gain by what they are paid beyond their share of honest bytes.
  const gain =
    s.attack.kind === "fake-viewers"
      ? credited > 0
        ? (rewardUsd * excess) / credited
        : 0
      : rewardUsd - honestShare * (Number(totalReward) / MICRO);
  return {
    name: s.name,
    attack: s.attack.kind,
    nodes: sim.nodes.length,
    attackerNodes: attackers.length,
    attackerRewardShare: totalReward === 0n ? 0 : Number(attackerReward) / Number(totalReward),
    attackerHonestByteShare: honestShare,
    attackerRewardUsd: rewardUsd,
    attackerCostUsd: cost,
    attackerProfitUsd: rewardUsd - cost,
    attackGainUsd: gain,
    attackProfitUsd: gain - slashed - blocks,
    attackerExcessCreditBytes: excess,
    identityCapBytes: EPOCH_PARAMS.maxSessionsPerSubnet * epochBytes * epochs,
    totalRewardUsd: Number(totalReward) / MICRO,
    honestStallRatio: stats.playMs + stats.stallMs > 0 ? stats.stallMs / (stats.playMs + stats.stallMs) : 0,
    startupP50Ms: quantile(stats.startups, 0.5),
    startupP95Ms: quantile(stats.startups, 0.95),
    failoversPerSession: stats.failovers / Math.max(1, stats.sessions),
    sessions: stats.sessions,
    fakeSessions: stats.fakeSessions,
    fakeTicketsRefused: stats.fakeTicketsRefused,
    provenTamperPairs: proven.length,
    liarIngestShare,
    liarIngestCapableShare,
    ingestEgressGB: stats.ingestBytes / 1e9,
    originEgressGB: stats.originBytes / 1e9,
    totalEgressGB: sim.nodes.reduce((a, n) => a + n.bytesSent, 0) / 1e9,
    epochs: stats.epochs.map((e) => ({
      epoch: e.epoch,
      sessions: e.sessions,
      receipts: e.receipts,
      computeMs: e.computeMs + e.payoutMs,
      withheldGB: e.withheldBytes / 1e9,
      paidUsd: Number(e.paidMicro) / MICRO,
    })),
    work: {
      heartbeatsPerEpoch: per(sim.model.work.heartbeats),
      routeRequestsPerEpoch: per(sim.model.work.routeRequests),
      upstreamChoicesPerEpoch: per(sim.model.work.upstreamChoices),
      probesPerEpoch: per(sim.model.work.probes),
      receiptsPerEpoch: per(stats.receipts),
      realReceiptsVerified: stats.realReceipts,
      verifyUsPerReceipt: stats.realReceipts > 0 ? (stats.realVerifyMs * 1000) / stats.realReceipts : 0,
      epochComputeMsMax: Math.max(0, ...stats.epochs.map((e) => e.computeMs + e.payoutMs)),
    },
    wallMs: stats.wallMs,
    peakRssMiB: stats.peakRssBytes / 2 ** 20,
  };
}
