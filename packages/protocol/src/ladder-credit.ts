import { isInitRendition, rungOfRendition, SOURCE_RUNG } from "./rendition.ts";

/** A media segment as a ledger records it (from a verified attestation). */
export interface LedgerSegment {
  rendition: string;
  seq: number;
  byteLength: number;
  producedAt: number;
}

/**
 * Rule: a viewer is credited for at most one rendition per second of a
 * stream: for each segment number, the bytes of the largest rendition the
 * origin produced for it (so a viewer on any single rung, and one switching
 * between rungs, is fully credited, while one that fetches every rung of
 * every segment and signs receipts for all is credited no more than for the
 * largest rung). Returns one row per seq: the largest rendition's size, at
 * the source's production time (any rung's when the source's is missing).
 * Inits are left out (they are allowed for separately). The coordinator's
 * plausibility cap measures sessions with these rows.
 */
export function creditYardstick<T extends LedgerSegment>(rows: readonly T[]): T[] {
  const bySeq = new Map<number, T>();
  for (const r of rows) {
    if (isInitRendition(r.rendition)) continue;
    const held = bySeq.get(r.seq);
    if (!held) {
      bySeq.set(r.seq, r);
      continue;
    }
    const isSource = rungOfRendition(r.rendition) === SOURCE_RUNG;
    const producedAt = isSource ? r.producedAt : held.producedAt;
    bySeq.set(r.seq, { ...held, byteLength: Math.max(held.byteLength, r.byteLength), producedAt });
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
