import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeEpoch, EPOCH_PARAMS, type EpochInput } from "../src/accounting/epoch-compute.ts";
import type { ReceiptRow, SegmentRow, SessionRow } from "../src/accounting/store.ts";
import { siteOf, subnetOf } from "../src/accounting/viewer-identity.ts";

const RUNS = { seed: 20_261_127, numRuns: 200 };
const startsAt = 10_000_000;
const endsAt = startsAt + 3_600_000;

/** A stream producing `segs` segments of `bytes` each, spread over the epoch. */
function ledger(streamId: string, segs: number, bytes: number): SegmentRow[] {
  return Array.from({ length: segs }, (_, i) => ({
    streamId,
    rendition: "v",
    seq: i,
    byteLength: bytes,
    durationMs: 1000,
    producedAt: startsAt + 1 + i * Math.floor(3_500_000 / segs),
  }));
}

function session(sessionId: string, streamId: string, clientAddr: string, issuedAt = startsAt): SessionRow {
  return {
    sessionId,
    streamId,
    viewerKey: null,
    clientAddr,
    subnet: subnetOf(clientAddr),
    site: siteOf(clientAddr),
    issuedAt,
    expiresAt: endsAt,
    isProbe: false,
  };
}

function receipt(
  sessionId: string,
  nodeId: string,
  streamId: string,
  bytes: number,
  segments: number,
): ReceiptRow {
  return {
    sessionId,
    nodeId,
    streamId,
    bytes,
    segments,
    lastSeq: segments,
    issuedAt: endsAt - 1,
    json: "{}",
  };
}

function epoch(
  sessions: SessionRow[],
  receipts: ReceiptRow[],
  segments: Map<string, SegmentRow[]>,
): EpochInput {
  const nodes = new Set(receipts.map((r) => r.nodeId));
  return {
    epoch: 1,
    startsAt,
    endsAt,
    receipts,
    sessions: new Map(sessions.map((s) => [s.sessionId, s])),
    creditedSoFar: new Map(),
    segments,
    maxInitBytes: new Map(),
    quality: new Map([...nodes].map((n) => [n, 1])),
    params: EPOCH_PARAMS,
  };
}

describe("identity caps in computeEpoch (fast-check, fixed seed)", () => {
  // A fake audience of any shape: sessions on up to 3 IPv6 sites, any /64s inside them, any of 3
  // streams of different sizes, each claiming up to 3× what was produced. Each site feeds its own
  // node, so a node's credit rows are its site's credit.
  const audience = fc.array(
    fc.record({
      site: fc.integer({ min: 0, max: 2 }),
      slash64: fc.integer({ min: 0, max: 40 }),
      host: fc.integer({ min: 1, max: 5 }),
      stream: fc.integer({ min: 0, max: 2 }),
      claim: fc.oneof(fc.constantFrom(1, 3), fc.double({ min: 0, max: 3, noNaN: true })),
    }),
    // Up to 4 sessions per (site, stream) on average: rows the few-identities rule lets through.
    { minLength: 1, maxLength: 24 },
  );

  it("credits no site more than maxSessionsPerSite sessions' worth, however it spreads over /64s and streams", () => {
    fc.assert(
      fc.property(audience, (viewers) => {
        const streams = ["a", "b", "c"];
        const segments = new Map(streams.map((id, i) => [id, ledger(id, 20 * (i + 1), 1000 * (i + 1))]));
        const produced = new Map(
          [...segments].map(([id, segs]) => [id, segs.reduce((n, s) => n + s.byteLength, 0)]),
        );
        const sessions: SessionRow[] = [];
        const receipts: ReceiptRow[] = [];
        viewers.forEach((v, i) => {
          const streamId = streams[v.stream] as string;
          const addr = `2001:db8:${v.site.toString(16)}:${v.slash64.toString(16)}::${v.host.toString(16)}`;
          sessions.push(session(`s${i}`, streamId, addr));
          const full = produced.get(streamId) ?? 0;
          receipts.push(receipt(`s${i}`, `n${v.site}`, streamId, Math.floor(full * v.claim), 1));
        });
        const out = computeEpoch(epoch(sessions, receipts, segments));
        const worth = new Map<string, number>();
        for (const c of out.credits) {
          worth.set(c.nodeId, (worth.get(c.nodeId) ?? 0) + c.creditedBytes / (produced.get(c.streamId) ?? 1));
        }
        for (const w of worth.values()) expect(w).toBeLessThanOrEqual(EPOCH_PARAMS.maxSessionsPerSite + 1e-9);
      }),
      RUNS,
    );
  });

  it("credits nothing for a session whose start is not a number (a corrupt row), instead of everything", () => {
    const segments = new Map([["a", ledger("a", 20, 1000)]]);
    const s = session("s0", "a", "10.0.0.1", Number.NaN);
    const out = computeEpoch(epoch([s], [receipt("s0", "n0", "a", 20_000, 20)], segments));
    expect(out.credits.reduce((n, c) => n + c.creditedBytes, 0)).toBe(0);
    expect(out.sessions[0]?.factor).toBe(0);
  });
});
