import {
  EPOCH_PARAMS,
  type EpochParams,
  fewViewerIdentities,
  identityCappedCredit,
} from "@streamrp2p/coordinator/accounting/epoch-compute";

export interface FakeAudience {
  /** Bytes the stream produced in the epoch (its bitrate × the epoch): one session's plausible most. */
  producedBytes: number;
  /** Distinct sites (IPv4 /24, IPv6 /48) the fake viewers come from. */
  sites: number;
  /** Distinct subnets used in each site: 1 for IPv4 (the /24 is both); up to 65,536 IPv6 /64s in a /48. */
  subnetsPerSite: number;
  /** Sessions per subnet, each claiming everything the stream produced. */
  sessionsPerSubnet: number;
}

/**
 * The most one node can be credited in an epoch for an audience it fakes
 * (receipts it signs itself), under the coordinator's own rules: each session
 * is capped at what the stream produced (plausibility), each subnet at
 * `maxSessionsPerSubnet` sessions' worth, each site at `maxSessionsPerSite`,
 * and a (node, stream) fed by many sessions from few subnets is withheld
 * entirely.
 */
export function fakeAudienceCredit(a: FakeAudience, p: EpochParams = EPOCH_PARAMS): number {
  const sites = Math.max(0, Math.floor(a.sites));
  const subnetsPerSite = Math.max(0, Math.floor(a.subnetsPerSite));
  const perSubnet = Math.max(0, Math.floor(a.sessionsPerSubnet));
  const sessionsPerSite = subnetsPerSite * perSubnet;
  const sessions = sites * sessionsPerSite;
  if (sessions === 0 || a.producedBytes <= 0) return 0;
  if (fewViewerIdentities(sessions, sites * subnetsPerSite, p)) return 0;
  const produced = Math.floor(a.producedBytes); // plausibility: no session gets more than was produced
  // The subnet cap, then the site cap on what it left, each session scaled as computeEpoch scales it.
  const afterSubnet = identityCappedCredit(produced, perSubnet, p.maxSessionsPerSubnet);
  const siteWorth = (sessionsPerSite * afterSubnet) / produced;
  const afterSite = identityCappedCredit(afterSubnet, siteWorth, p.maxSessionsPerSite);
  return sites * sessionsPerSite * afterSite;
}

/** The subnets an attacker needs to escape the few-identities rule. */
export function subnetsToEscapeCollusionRule(p: EpochParams = EPOCH_PARAMS): number {
  return p.collusionMaxSubnets + 1;
}

export { EPOCH_PARAMS, type EpochParams };
