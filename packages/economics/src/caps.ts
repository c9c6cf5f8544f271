import {
  EPOCH_PARAMS,
  type EpochParams,
  fewViewerIdentities,
  subnetCappedCredit,
} from "@streamrp2p/coordinator/accounting/epoch-compute";

export interface FakeAudience {
  /** Bytes the stream produced in the epoch (its bitrate × the epoch): one session's plausible most. */
  producedBytes: number;
  /** Distinct subnets (IPv4 /24, IPv6 /64) the fake viewers come from. */
  subnets: number;
  /** Sessions per subnet, each claiming everything the stream produced. */
  sessionsPerSubnet: number;
}

/**
 * The most one node can be credited in an epoch for an audience it fakes
 * (receipts it signs itself), under the coordinator's own rules: each session
 * is capped at what the stream produced (plausibility), each subnet at
 * `maxSessionsPerSubnet` sessions' worth, and a (node, stream) fed by many
 * sessions from few subnets is withheld entirely.
 */
export function fakeAudienceCredit(a: FakeAudience, p: EpochParams = EPOCH_PARAMS): number {
  const subnets = Math.max(0, Math.floor(a.subnets));
  const perSubnet = Math.max(0, Math.floor(a.sessionsPerSubnet));
  const sessions = subnets * perSubnet;
  if (sessions === 0 || a.producedBytes <= 0) return 0;
  if (fewViewerIdentities(sessions, subnets, p)) return 0;
  const session = Math.floor(a.producedBytes); // plausibility: no session gets more than was produced
  const perSubnetCredit = perSubnet * subnetCappedCredit(session, perSubnet, p);
  return subnets * perSubnetCredit;
}

/** The subnets an attacker needs to escape the few-identities rule with `sessions` sessions. */
export function subnetsToEscapeCollusionRule(p: EpochParams = EPOCH_PARAMS): number {
  return p.collusionMaxSubnets + 1;
}

export { EPOCH_PARAMS, type EpochParams };
