import { computeEpoch, EPOCH_PARAMS, type EpochParams } from "./epoch-compute.ts";
import { REPUTATION_PARAMS, type Reputation, type ReputationParams, reputation } from "./reputation.ts";
import type { AccountingStore, SegmentRow, SessionRow } from "./store.ts";
import type { UptimeTracker } from "./uptime.ts";

export interface EpochCloserDeps {
  store: AccountingStore;
  uptime: UptimeTracker;
  /** Node ids with a proven fraud. */
  tamperedNodes: () => Promise<Set<string>>;
  epochMs: number;
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
 * Closes one epoch: reads the latest receipts, the sessions and the segment
 * ledger, scores each node, computes credits, and stores the result together
 * with every input needed to recompute it.
 */
export async function closeEpoch(d: EpochCloserDeps, epoch: number, closedAt: number) {
  const params = d.epochParams ?? EPOCH_PARAMS;
  const startsAt = epoch * d.epochMs;
  const endsAt = startsAt + d.epochMs;
  const receipts = await d.store.receiptsUpTo(closedAt + 1);
  const sessions = new Map<string, SessionRow>(
    (await d.store.getSessions([...new Set(receipts.map((r) => r.sessionId))])).map((s) => [s.sessionId, s]),
  );
  const streams = new Set(receipts.map((r) => r.streamId));
  const earliest = Math.min(startsAt, ...[...sessions.values()].map((s) => s.issuedAt));
  const segments = new Map<string, SegmentRow[]>();
  const maxInitBytes = new Map<string, number>();
  for (const streamId of streams) {
    segments.set(streamId, await d.store.segmentsBetween(streamId, earliest - params.lookbackMs, closedAt));
    maxInitBytes.set(streamId, await d.store.maxInitBytes(streamId));
  }
  const tampered = await d.tamperedNodes();
  const reputations = new Map<string, Reputation>();
  for (const nodeId of new Set(receipts.map((r) => r.nodeId))) {
    reputations.set(nodeId, await nodeReputation(d, nodeId, endsAt, tampered.has(nodeId)));
  }
  const quality = new Map([...reputations].map(([id, r]) => [id, r.quality]));
  const creditedSoFar = await d.store.creditedSoFar();
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
    params,
  });
  const inputs = {
    params,
    receipts: receipts.map((r) => JSON.parse(r.json) as unknown),
    sessions: [...sessions.values()],
    creditedBefore: Object.fromEntries(creditedSoFar),
    segments: Object.fromEntries(
      [...segments].map(([id, segs]) => [id, segs.map((s) => [s.seq, s.byteLength, s.producedAt])]),
    ),
    maxInitBytes: Object.fromEntries(maxInitBytes),
    reputations: Object.fromEntries(reputations),
    sessionChecks: out.sessions,
    rejected: out.rejected,
  };
  await d.store.closeEpoch(
    { epoch, startsAt, endsAt, closedAt, inputs: JSON.stringify(inputs) },
    out.credits,
    out.cumulative,
  );
  return out;
}
