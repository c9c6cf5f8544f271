import { SrpError } from "@streamrp2p/protocol";
import type { EpochCreditRow, ReceiptRow, SegmentRow, SessionRow } from "./store.ts";
import { creditKey } from "./store.ts";

export interface EpochParams {
  /** A player starts a few segments behind the edge: segments produced this long before the ticket count. */
  lookbackMs: number;
  /**
   * Concurrent sessions' worth one subnet (IPv4 /24, IPv6 /64) may be
   * credited for in an epoch, summed across all streams: a session's share
   * is its credit over what its stream produced in the epoch.
   */
  maxSessionsPerSubnet: number;
  /**
   * The same, per site (IPv4 /24, IPv6 /48): one /48 holds 65,536 /64s, so
   * without it one cheaply held /48 was 65,536 capped audiences. A /48 is
   * cheaper to hold than an IPv4 /24 (tunnel brokers grant one free), so it
   * is capped no more generously. For IPv4 the site is the subnet. Kept
   * apart from the subnet cap so an operator can be more generous to
   * carriers that seat many phones, each on its own /64, in one /48.
   */
  maxSessionsPerSite: number;
  /**
   * A (node, stream) whose credit comes from this few subnets or fewer, over
   * many sessions, is flagged `few-viewer-identities` and its credit
   * withheld. Subnets, not sites: carriers and campuses seat each device on
   * its own /64 of one shared /48, and counted by /48 five honest phones
   * (or four and one griefer anywhere) lost their node's whole credit. One
   * /48 spread over many /64s escapes this rule but not the site cap.
   */
  collusionMaxSubnets: number;
  collusionMinSessions: number;
}

export const EPOCH_PARAMS: EpochParams = {
  lookbackMs: 30_000, // ms
  maxSessionsPerSubnet: 3,
  maxSessionsPerSite: 3,
  collusionMaxSubnets: 2,
  collusionMinSessions: 5,
};

export interface EpochInput {
  epoch: number;
  startsAt: number;
  endsAt: number;
  /** Latest receipt per (session, node) issued before endsAt. */
  receipts: ReceiptRow[];
  sessions: Map<string, SessionRow>;
  /** Bytes already credited per (session, node) in earlier epochs. */
  creditedSoFar: Map<string, number>;
  /** Media segments of each stream produced in [earliest session start - lookback, endsAt]. */
  segments: Map<string, SegmentRow[]>;
  maxInitBytes: Map<string, number>;
  /** Quality factor per node in [0, 1]. */
  quality: Map<string, number>;
  /** "node/stream" pairs with a proven tamper: quality 0 on that stream only. */
  provenTamper?: Set<string>;
  params: EpochParams;
}

export interface SessionCheck {
  sessionId: string;
  claimedBytes: number;
  plausibleBytes: number;
  claimedSegments: number;
  producedSegments: number;
  /** ≤ 1: the share of the claim that is physically possible. */
  factor: number;
}

export interface EpochOutput {
  /** Per (node, stream): `creditedBytes` is what is paid for; withheld credit is listed in `withheld`. */
  credits: EpochCreditRow[];
  /** Credit held back by a flag, per (node, stream): forfeited, never paid in a later epoch. */
  withheld: Array<{ nodeId: string; streamId: string; bytes: number; reason: string }>;
  /** New cumulative credit per (session, node). */
  cumulative: Map<string, number>;
  sessions: SessionCheck[];
  rejected: Array<{ sessionId: string; nodeId: string; reason: string }>;
}

/**
 * A stream's ledger sorted by production time with running byte sums, so a
 * session's "segments produced during its lifetime" is two binary searches
 * instead of a scan of the stream's ledger (an epoch has O(sessions) of them).
 */
interface ProducedIndex {
  at: number[];
  /** bytesUpTo[i]: bytes of the first i segments in `at` order. */
  bytesUpTo: number[];
}

function producedIndex(segs: readonly SegmentRow[]): ProducedIndex {
  const sorted = [...segs].sort((a, b) => a.producedAt - b.producedAt);
  const bytesUpTo = [0];
  for (const s of sorted) bytesUpTo.push((bytesUpTo[bytesUpTo.length - 1] ?? 0) + s.byteLength);
  return { at: sorted.map((s) => s.producedAt), bytesUpTo };
}

/** First index whose time is >= t (`strict`: > t). */
function searchAt(at: readonly number[], t: number, strict: boolean): number {
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = at[mid] as number;
    if (v < t || (strict && v === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Segments (count, bytes) produced in [from, to], both inclusive. */
function producedBetween(ix: ProducedIndex | undefined, from: number, to: number) {
  // `!(from <= to)`, not `to < from`: a NaN bound (a corrupt timestamp) must mean nothing produced,
  // never the binary searches' "everything".
  if (!ix || !(from <= to)) return { count: 0, bytes: 0 };
  const a = searchAt(ix.at, from, false);
  const b = searchAt(ix.at, to, true);
  if (b <= a) return { count: 0, bytes: 0 };
  return { count: b - a, bytes: (ix.bytesUpTo[b] ?? 0) - (ix.bytesUpTo[a] ?? 0) };
}

function plausibility(
  input: EpochInput,
  ledger: Map<string, ProducedIndex>,
  session: SessionRow,
  rows: ReceiptRow[],
): SessionCheck {
  let lastAt = Number.NEGATIVE_INFINITY;
  for (const r of rows) lastAt = Math.max(lastAt, r.issuedAt);
  const produced = producedBetween(
    ledger.get(session.streamId),
    session.issuedAt - input.params.lookbackMs,
    lastAt,
  );
  // One init per node used is legitimate: the player fetches it from each node it switches to.
  const initAllowance = (input.maxInitBytes.get(session.streamId) ?? 0) * rows.length;
  const plausibleBytes = produced.bytes + initAllowance;
  const claimedBytes = rows.reduce((n, r) => n + r.bytes, 0);
  const claimedSegments = rows.reduce((n, r) => n + r.segments, 0);
  const byBytes = claimedBytes === 0 ? 1 : plausibleBytes / claimedBytes;
  const bySegments = claimedSegments === 0 ? 1 : produced.count / claimedSegments;
  return {
    sessionId: session.sessionId,
    claimedBytes,
    plausibleBytes,
    claimedSegments,
    producedSegments: produced.count,
    factor: Math.min(1, byBytes, bySegments),
  };
}

/**
 * Turns the latest receipts into credited bytes per (node, stream) for one
 * epoch. Deterministic in its inputs, which are stored with the result, so
 * anyone can recompute it. Credit = what viewers signed for, capped by what
 * the stream physically produced during each session, capped per viewer
 * identity, minus what earlier epochs already credited.
 */
export function computeEpoch(input: EpochInput): EpochOutput {
  checkRuleInputs(input);
  const rejected: EpochOutput["rejected"] = [];
  const bySession = new Map<string, ReceiptRow[]>();
  for (const r of input.receipts) {
    const s = input.sessions.get(r.sessionId);
    if (!s) {
      rejected.push({ sessionId: r.sessionId, nodeId: r.nodeId, reason: "unknown session" });
      continue;
    }
    if (s.isProbe) continue; // the coordinator's own probes earn nothing
    if (s.streamId !== r.streamId) {
      rejected.push({ sessionId: r.sessionId, nodeId: r.nodeId, reason: "receipt for another stream" });
      continue;
    }
    const list = bySession.get(r.sessionId) ?? [];
    list.push(r);
    bySession.set(r.sessionId, list);
  }

  const cumulative = new Map<string, number>();
  const checks: SessionCheck[] = [];
  const factorOf = new Map<string, number>();
  const ledger = new Map([...input.segments].map(([id, segs]) => [id, producedIndex(segs)]));
  // New credit per (session, node) this epoch, before identity caps.
  const deltas: Array<{
    session: SessionRow;
    nodeId: string;
    delta: number;
    claimed: number;
    fresh: boolean;
  }> = [];
  for (const [sessionId, rows] of bySession) {
    const session = input.sessions.get(sessionId) as SessionRow;
    const check = plausibility(input, ledger, session, rows);
    checks.push(check);
    factorOf.set(sessionId, check.factor);
    for (const r of rows) {
      const key = creditKey(sessionId, r.nodeId);
      const before = input.creditedSoFar.get(key) ?? 0;
      const capped = Math.floor(r.bytes * check.factor);
      const delta = Math.max(0, capped - before);
      cumulative.set(key, before + delta);
      deltas.push({
        session,
        nodeId: r.nodeId,
        delta,
        claimed: Math.max(0, r.bytes - before),
        fresh: r.issuedAt >= input.startsAt,
      });
    }
  }

  // Two caps, the narrower key first: each /64 to its share, then each /48 (holding up to
  // 65,536 of them) to its own. For IPv4 both keys are the /24 and the subnet cap binds.
  const produced = producedThisEpoch(input);
  const cappedSubnets = capPerIdentity(deltas, produced, (s) => s.subnet, input.params.maxSessionsPerSubnet);
  const cappedSites = capPerIdentity(deltas, produced, (s) => s.site, input.params.maxSessionsPerSite);
  const agg = new Map<
    string,
    {
      nodeId: string;
      streamId: string;
      credited: number;
      claimed: number;
      sessions: Set<string>;
      subnets: Set<string>;
      flags: Set<string>;
    }
  >();
  for (const d of deltas) {
    if (d.delta === 0 && !d.fresh) continue; // nothing new from this session this epoch
    const key = `${d.nodeId}|${d.session.streamId}`;
    const a = agg.get(key) ?? {
      nodeId: d.nodeId,
      streamId: d.session.streamId,
      credited: 0,
      claimed: 0,
      sessions: new Set(),
      subnets: new Set(),
      flags: new Set(),
    };
    a.credited += d.delta;
    a.claimed += d.claimed;
    a.sessions.add(d.session.sessionId);
    a.subnets.add(d.session.subnet);
    if (cappedSubnets.has(d.session.subnet) || cappedSites.has(d.session.site))
      a.flags.add("identity-capped");
    if ((factorOf.get(d.session.sessionId) ?? 1) < 1) a.flags.add("implausible-claims-capped");
    agg.set(key, a);
  }
  const withheld: EpochOutput["withheld"] = [];
  const credits: EpochCreditRow[] = [...agg.values()].map((a) => {
    if (fewViewerIdentities(a.sessions.size, a.subnets.size, input.params)) {
      // Many sessions, few subnets feeding one node: the receipt graph of an operator
      // watching itself. Its credit is withheld (forfeited: the cumulative credit
      // already counts it as consumed), not escrowed: nothing later makes it honest.
      a.flags.add("few-viewer-identities");
      if (a.credited > 0)
        withheld.push({
          nodeId: a.nodeId,
          streamId: a.streamId,
          bytes: a.credited,
          reason: "few-viewer-identities",
        });
      a.credited = 0;
    }
    const proven = input.provenTamper?.has(`${a.nodeId}/${a.streamId}`) ?? false;
    if (proven) a.flags.add("proven-tamper");
    const quality = proven ? 0 : (input.quality.get(a.nodeId) ?? 0);
    return {
      epoch: input.epoch,
      nodeId: a.nodeId,
      streamId: a.streamId,
      creditedBytes: a.credited,
      claimedBytes: a.claimed,
      sessions: a.sessions.size,
      subnets: a.subnets.size,
      quality,
      weight: a.credited * quality,
      flags: [...a.flags].sort(),
    };
  });
  credits.sort((x, y) => x.nodeId.localeCompare(y.nodeId) || x.streamId.localeCompare(y.streamId));
  return { credits, withheld, cumulative, sessions: checks, rejected };
}

const RULE_PARAMS = [
  "lookbackMs",
  "maxSessionsPerSubnet",
  "maxSessionsPerSite",
  "collusionMaxSubnets",
  "collusionMinSessions",
] as const satisfies ReadonlyArray<keyof EpochParams>;

/**
 * Inputs published under an earlier rule (an epoch closed before the site cap
 * has no `site` and `collusionMaxSubnets`) would compute silently different
 * credits: an undefined cap caps nothing. Refused instead, so a recomputation
 * either matches or says why it cannot.
 */
function checkRuleInputs(input: EpochInput): void {
  const p = input.params as unknown as Record<string, unknown>;
  for (const k of RULE_PARAMS)
    if (typeof p[k] !== "number" || !Number.isFinite(p[k]))
      throw new SrpError("VALIDATION_FAILED", `epoch params lack ${k}: inputs of another rule version`);
  for (const s of input.sessions.values())
    if (typeof s.subnet !== "string" || typeof s.site !== "string")
      throw new SrpError(
        "VALIDATION_FAILED",
        `session ${s.sessionId} lacks its subnet or site: inputs of another rule version`,
      );
}

/**
 * Rule: many sessions from few subnets (IPv4 /24, IPv6 /64) feeding one
 * (node, stream) is the receipt graph of an operator watching itself; its
 * credit is withheld. Exported (pure) so the economic model reckons with the
 * same rule.
 */
export function fewViewerIdentities(sessions: number, subnets: number, p: EpochParams): boolean {
  return sessions >= p.collusionMinSessions && subnets <= p.collusionMaxSubnets;
}

/**
 * Worth is a sum of fractions: an identity at exactly its cap can sum to
 * 3.0000000000000013 and lose a byte a delta to a cap it did not exceed.
 * Over by less than this is at the cap (< 1 byte per GB produced).
 */
const WORTH_TOLERANCE = 1e-9;

/**
 * Rule: an identity (a subnet or a site) whose credit this epoch is worth
 * `worth` concurrent sessions (credit over what the stream produced) keeps
 * at most `cap` sessions' worth: each of its credits is scaled down to the
 * cap, rounding down. Pure, shared with the economic model.
 */
export function identityCappedCredit(credit: number, worth: number, cap: number): number {
  return worth > cap + WORTH_TOLERANCE ? Math.floor((credit * cap) / worth) : credit;
}

type Delta = { session: SessionRow; delta: number };

/** Bytes each stream produced in the epoch, with the lookback before it (sessions start behind the edge). */
function producedThisEpoch(input: EpochInput): Map<string, number> {
  const produced = new Map<string, number>();
  for (const [streamId, segs] of input.segments) {
    let bytes = 0;
    for (const s of segs) {
      if (s.producedAt >= input.startsAt - input.params.lookbackMs && s.producedAt < input.endsAt) {
        bytes += s.byteLength;
      }
    }
    produced.set(streamId, bytes);
  }
  return produced;
}

/**
 * Per identity (`keyOf` a session: its subnet or its site), across every
 * stream: no more than `cap` concurrent sessions' worth. A session's worth
 * is its new credit over what its stream produced in the epoch. Over the
 * cap, every delta of the identity is scaled down to it; the excess is
 * forfeited, not deferred (cumulative credit keeps the whole claim as
 * consumed, so later epochs cannot pay it out bit by bit). Returns the
 * capped identities.
 */
function capPerIdentity(
  deltas: Delta[],
  produced: Map<string, number>,
  keyOf: (s: SessionRow) => string,
  cap: number,
): Set<string> {
  const byIdentity = new Map<string, Delta[]>();
  for (const d of deltas) {
    const key = keyOf(d.session);
    const list = byIdentity.get(key);
    if (list) list.push(d);
    else byIdentity.set(key, [d]);
  }
  const capped = new Set<string>();
  for (const [identity, list] of byIdentity) {
    let worth = 0; // in concurrent sessions' worth
    for (const d of list) {
      const p = produced.get(d.session.streamId) ?? 0;
      // Credit for a stream that produced nothing this epoch cannot be one session's worth of anything.
      if (p > 0) worth += d.delta / p;
      else if (d.delta > 0) {
        d.delta = 0;
        capped.add(identity);
      }
    }
    if (worth > cap + WORTH_TOLERANCE) {
      capped.add(identity);
      for (const d of list) d.delta = identityCappedCredit(d.delta, worth, cap);
    }
  }
  return capped;
}
