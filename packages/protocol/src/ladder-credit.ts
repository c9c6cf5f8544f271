import { isInitRendition, rungOfRendition, SOURCE_RUNG } from "./rendition.ts";

/** A media segment as a ledger records it (from a verified attestation). */
export interface LedgerSegment {
  rendition: string;
  seq: number;
  byteLength: number;
  producedAt: number;
}

/**
 * A transcoded rung counts for at most this many times the source's bytes of
 * the same segment number. Rung sizes are the streamer's to sign: unbounded,
 * one oversized rung that only a colluding viewer fetches raised what every
 * session of the stream may claim (review of issue 15: 94% of the credit to
 * one colluder against three honest viewers, with a rung 50x the source).
 * Rungs are scaled down from the source, so an honest one is rarely larger;
 * the slack covers a low-bitrate source under a higher-bitrate rung.
 */
export const MAX_RUNG_TO_SOURCE = 2;

/**
 * Rule: a viewer is credited for at most one rendition per second of a
 * stream: for each segment number, the bytes of the largest rendition the
 * origin produced for it, a transcoded rung counting for at most
 * MAX_RUNG_TO_SOURCE times the source's segment (so a viewer on any single
 * rung, and one switching between rungs, is fully credited, while one that
 * fetches every rung of every segment and signs receipts for all is credited
 * no more than for the largest rung). A segment number whose source segment
 * is missing counts its smallest rung: no bound is known for the others.
 * Returns one row per seq at the source's production time (any rung's when
 * the source's is missing). Inits are left out (they are allowed for
 * separately). The coordinator's plausibility cap measures sessions with
 * these rows.
 */
export function creditYardstick<T extends LedgerSegment>(rows: readonly T[]): T[] {
  const bySeq = new Map<number, { source?: T; rungs: T[] }>();
  for (const r of rows) {
    if (isInitRendition(r.rendition)) continue;
    const held = bySeq.get(r.seq) ?? { rungs: [] };
    if (rungOfRendition(r.rendition) === SOURCE_RUNG) held.source = r;
    else held.rungs.push(r);
    bySeq.set(r.seq, held);
  }
  const out: T[] = [];
  for (const { source, rungs } of bySeq.values()) {
    if (source) {
      const bound = source.byteLength * MAX_RUNG_TO_SOURCE;
      let bytes = source.byteLength;
      for (const r of rungs) bytes = Math.max(bytes, Math.min(r.byteLength, bound));
      out.push({ ...source, byteLength: bytes });
    } else {
      const smallest = rungs.reduce((a, b) => (b.byteLength < a.byteLength ? b : a));
      out.push(smallest);
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
}
