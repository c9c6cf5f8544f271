import { computePayout } from "@streamrp2p/chain";
import {
  computeEpoch,
  creditKey,
  EPOCH_PARAMS,
  type EpochCreditRow,
  type ReceiptRow,
  type SegmentRow,
  type SessionRow,
} from "@streamrp2p/coordinator";
import type { CoordinatorModel } from "./coordinator-model.ts";
import type { SimNode, SimStream, Viewer } from "./world.ts";

/** Token base units per USD (a 6-decimal stablecoin). */
export const MICRO = 1_000_000;
/** Init segment size allowed per node a session used. */
const INIT_BYTES = 1_500;

export interface EpochResult {
  epoch: number;
  sessions: number;
  receipts: number;
  credits: EpochCreditRow[];
  withheldBytes: number;
  paidMicro: bigint;
  computeMs: number;
  payoutMs: number;
}

/** Sessions whose receipts a closing epoch still reads: live viewers and those that ended recently. */
export interface EpochBook {
  live: Set<Viewer>;
  ended: Viewer[];
  creditedSoFar: Map<string, number>;
}

/**
 * Closes one epoch with the production computation: the latest receipt per
 * (session, node), the sessions, the segment ledger of each stream in the
 * window (generated from the stream's clock, never stored whole), each
 * node's reputation quality at the epoch's end, proven tampering; then the
 * reward split (computePayout) over each stream's pool.
 */
export function closeSimEpoch(
  book: EpochBook,
  model: CoordinatorModel,
  streams: SimStream[],
  epoch: number,
  epochMs: number,
  poolUsdPerViewerHour: number,
): EpochResult {
  const startsAt = epoch * epochMs;
  const endsAt = startsAt + epochMs;
  const t0 = performance.now();
  const sessions = new Map<string, SessionRow>();
  const receipts: ReceiptRow[] = [];
  for (const v of [...book.live, ...book.ended]) {
    if (v.receipts.size === 0) continue;
    sessions.set(v.session.sessionId, v.session);
    for (const r of v.receipts.values()) receipts.push(r);
  }
  let earliest = startsAt;
  for (const s of sessions.values()) earliest = Math.min(earliest, s.issuedAt);
  const from = earliest - EPOCH_PARAMS.lookbackMs;
  const used = new Set(receipts.map((r) => r.streamId));
  const segments = new Map<string, SegmentRow[]>();
  const maxInitBytes = new Map<string, number>();
  for (const st of streams) {
    if (!used.has(st.id)) continue;
    const rows: SegmentRow[] = [];
    const first = Math.max(0, Math.ceil((from - st.startedAt) / st.segmentMs));
    for (let seq = first; st.startedAt + seq * st.segmentMs <= endsAt; seq++) {
      rows.push({
        streamId: st.id,
        rendition: "main",
        seq,
        byteLength: st.segmentBytes,
        durationMs: st.segmentMs,
        producedAt: st.startedAt + seq * st.segmentMs,
      });
    }
    segments.set(st.id, rows);
    maxInitBytes.set(st.id, INIT_BYTES);
  }
  const quality = new Map<string, number>();
  for (const r of receipts)
    if (!quality.has(r.nodeId)) quality.set(r.nodeId, model.quality(r.nodeId, endsAt));
  const provenTamper = new Set(
    model.tamper
      .provenPairs()
      .map(([n, s]) => `${n}/${s}`)
      .filter((k) => receipts.some((r) => `${r.nodeId}/${r.streamId}` === k)),
  );
  const out = computeEpoch({
    epoch,
    startsAt,
    endsAt,
    receipts,
    sessions,
    creditedSoFar: book.creditedSoFar,
    segments,
    maxInitBytes,
    quality,
    provenTamper,
    params: EPOCH_PARAMS,
  });
  for (const [k, v] of out.cumulative) book.creditedSoFar.set(k, v);
  const computeMs = performance.now() - t0;
  const t1 = performance.now();
  const drawable = new Map<string, bigint>();
  for (const st of streams) {
    const usd = (st.viewerMsEpoch / 3_600_000) * poolUsdPerViewerHour;
    if (usd > 0) drawable.set(st.id, BigInt(Math.floor(usd * MICRO)));
    st.viewerMsEpoch = 0;
  }
  // Each node is its own payee here: rewards are summed per operator by the report.
  const payout = computePayout(out.credits, drawable, new Map());
  let paid = 0n;
  for (const [who, amount] of payout.amounts) {
    const n = model.node(who);
    if (n) n.rewardMicro += amount;
    paid += amount;
  }
  prune(book, endsAt, epochMs);
  return {
    epoch,
    sessions: sessions.size,
    receipts: receipts.length,
    credits: out.credits,
    withheldBytes: out.withheld.reduce((s, w) => s + w.bytes, 0),
    paidMicro: paid,
    computeMs,
    payoutMs: performance.now() - t1,
  };
}

/** Ended sessions no later epoch reads, and their cumulative credit, go (bounded memory). */
function prune(book: EpochBook, endsAt: number, epochMs: number): void {
  const keep: Viewer[] = [];
  for (const v of book.ended) {
    if (v.endAt >= endsAt - epochMs) keep.push(v);
    else
      for (const nodeId of v.receipts.keys())
        book.creditedSoFar.delete(creditKey(v.session.sessionId, nodeId));
  }
  book.ended = keep;
}

export type { SimNode };
