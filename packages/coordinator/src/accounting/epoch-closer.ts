import { computeEpoch, EPOCH_PARAMS, type EpochParams } from "./epoch-compute.ts";
import { publicReceipt, publicSession, subnetHasher } from "./public-inputs.ts";
import { REPUTATION_PARAMS, type Reputation, type ReputationParams, reputation } from "./reputation.ts";
import type { AccountingStore, SegmentRow, SessionRow } from "./store.ts";
import type { TamperIndex } from "./tamper.ts";
import type { UptimeTracker } from "./uptime.ts";

export interface EpochCloserDeps {
  store: AccountingStore;
  uptime: UptimeTracker;
  /** The evidence that counts at time `at` (ms), per (node, stream). */
  tamperAt: (at: number) => Promise<TamperIndex>;
  epochMs: number;
  /** Receipts are taken this long after a ticket expires (ms): how long a session can still change. */
  ticketGraceMs: number;
  epochParams?: EpochParams;
  reputationParams?: ReputationParams;
}

/** Epoch n covers [n·epochMs, (n+1)·epochMs) of wall-clock time. */
export const epochOf = (t: number, epochMs: number) => Math.floor(t / epochMs);

export async function nodeReputation(
  d: EpochCloserDeps,
  nodeId: string,
  at: number,
  tampered: boolean,
): Promise<Reputation> {
  const p = d.reputationParams ?? REPUTATION_PARAMS;
  const probes = await d.store.probesSince(nodeId, at - 8 * p.halfLifeMs);
  return reputation(
    probes.filter((x) => x.at <= at),
    d.uptime.uptime(nodeId, at),
    tampered,
    at,
    p,
  );
}

/**
 * Sessions that can still matter to epoch `startsAt`: those whose receipts
 * could arrive in it. One extra epoch of margin covers a receipt taken while
 * the previous epoch was being closed.
 */
export const liveFrom = (d: EpochCloserDeps, startsAt: number) => startsAt - d.epochMs - d.ticketGraceMs;

/**
 * Closes one epoch: reads the window's receipts, sessions and segment
 * ledger (never the whole history), scores each node, computes credits,
 * stores the result with every input needed to recompute it, and prunes
 * what no later epoch can read.
 */
export async function closeEpoch(d: EpochCloserDeps, epoch: number, closedAt: number) {
  const params = d.epochParams ?? EPOCH_PARAMS;
  const startsAt = epoch * d.epochMs;
  const endsAt = startsAt + d.epochMs;
  const window = await d.store.receiptsInWindow(liveFrom(d, startsAt), closedAt + 1);
  // Probe sessions earn nothing and are not published (which sessions probe is the
  // coordinator's secret); the rest are computed on exactly as published.
  const hash = subnetHasher(await d.store.secret("subnet-hmac"), epoch);
  const sessions = new Map<string, SessionRow>(
    window.sessions.filter((s) => !s.isProbe).map((s) => [s.sessionId, publicSession(s, hash)]),
  );
  const receipts = window.receipts.filter((r) => sessions.has(r.sessionId));
  const streams = new Set(receipts.map((r) => r.streamId));
  const earliest = Math.min(startsAt, ...[...sessions.values()].map((s) => s.issuedAt));
  const segments = new Map<string, SegmentRow[]>();
  const maxInitBytes = new Map<string, number>();
  for (const streamId of streams) {
    segments.set(streamId, await d.store.segmentsBetween(streamId, earliest - params.lookbackMs, closedAt));
    maxInitBytes.set(streamId, await d.store.maxInitBytes(streamId));
  }
  // A proof zeroes the node's credit on the stream it was proven on, not elsewhere; unproven
  // reports (anyone with a ticket can send one) never touch rewards.
  const provenTamper = (await d.tamperAt(closedAt))
    .provenPairs()
    .filter(([nodeId, streamId]) => receipts.some((r) => r.nodeId === nodeId && r.streamId === streamId));
  const reputations = new Map<string, Reputation>();
  for (const nodeId of new Set(receipts.map((r) => r.nodeId))) {
    reputations.set(nodeId, await nodeReputation(d, nodeId, endsAt, false));
  }
  const quality = new Map([...reputations].map(([id, r]) => [id, r.quality]));
  const creditedSoFar = await d.store.creditedFor([...sessions.keys()]);
  const out = computeEpoch({
    epoch,
    startsAt,
    endsAt,
    receipts,
    sessions,
    creditedSoFar,
    segments,
    maxInitBytes,
    quality,
    provenTamper: new Set(provenTamper.map(([n, st]) => `${n}/${st}`)),
    params,
  });
  const inputs = {
    params,
    receipts: receipts.map(publicReceipt),
    sessions: [...sessions.values()].map(({ sessionId, streamId, subnet, site, issuedAt, expiresAt }) => ({
      sessionId,
      streamId,
      subnet,
      site,
      issuedAt,
      expiresAt,
    })),
    creditedBefore: Object.fromEntries(creditedSoFar),
    segments: Object.fromEntries(
      [...segments].map(([id, segs]) => [id, segs.map((s) => [s.seq, s.byteLength, s.producedAt])]),
    ),
    maxInitBytes: Object.fromEntries(maxInitBytes),
    reputations: Object.fromEntries(reputations),
    provenTamper,
    sessionChecks: out.sessions,
    withheld: out.withheld,
    rejected: out.rejected,
  };
  await d.store.closeEpoch(
    { epoch, startsAt, endsAt, closedAt, inputs: JSON.stringify(inputs) },
    out.credits,
    out.cumulative,
  );
  const pruned = await prune(d, endsAt);
  return { ...out, pruned };
}

/**
 * After epoch [.., endsAt) is stored: what the next epoch's window no longer
 * reaches goes. Sessions (with receipts and credits) that ended before the
 * next window; ledger segments older than any kept session's lookback;
 * probes older than the reputation's reach. Closed epochs' rows stay: they
 * are what GET /v1/epochs/:n shows.
 */
async function prune(d: EpochCloserDeps, endsAt: number) {
  const params = d.epochParams ?? EPOCH_PARAMS;
  const rep = d.reputationParams ?? REPUTATION_PARAMS;
  const sessionsEndedBefore = liveFrom(d, endsAt);
  // Sessions that survive this prune still need their segments; so does the next epoch.
  const oldest = await d.store.oldestSessionStart(sessionsEndedBefore);
  const keepSegmentsFrom = Math.min(endsAt, oldest ?? endsAt);
  return d.store.prune({
    sessionsEndedBefore,
    segmentsBefore: keepSegmentsFrom - params.lookbackMs - d.epochMs,
    probesBefore: endsAt - 8 * rep.halfLifeMs - d.epochMs,
  });
}
