import { describe, expect, it } from "vitest";
import { computeEpoch, EPOCH_PARAMS, type EpochParams } from "../src/accounting/epoch-compute.ts";
import type { ReceiptRow, SegmentRow, SessionRow } from "../src/accounting/store.ts";

/**
 * The two identity caps composed (review of issue 13), on random epochs: one
 * node per subnet so the credit rows show what each subnet and site kept.
 * Splitting an identity's claim over streams, nodes and subnets never gets
 * past either cap, and the composition takes no more than the site cap needs.
 */
const PRODUCED = 60 * 1000; // bytes each stream produces in the epoch: 60 segments of 1000

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomEpoch(rnd: () => number) {
  const sessions = new Map<string, SessionRow>();
  const receipts: ReceiptRow[] = [];
  const n = 1 + Math.floor(rnd() * 40);
  for (let i = 0; i < n; i++) {
    const site = `site${Math.floor(rnd() * 3)}`;
    const subnet = `${site}/net${Math.floor(rnd() * 4)}`;
    const streamId = rnd() < 0.5 ? "a" : "b";
    const sessionId = `s${i}`;
    sessions.set(sessionId, {
      sessionId,
      streamId,
      viewerKey: null,
      clientAddr: "",
      subnet,
      site,
      issuedAt: 0,
      expiresAt: 120_000,
      isProbe: false,
    });
    // Tiny, partial and full claims (a fake operator splits its worth any way it likes).
    const r = rnd();
    const bytes = r < 0.2 ? 1 + Math.floor(rnd() * 10) : r < 0.6 ? Math.floor(rnd() * PRODUCED) : PRODUCED;
    receipts.push({
      sessionId,
      nodeId: subnet,
      streamId,
      bytes,
      segments: Math.floor(bytes / 1000),
      lastSeq: 60,
      issuedAt: 59_999,
      json: "",
    });
  }
  const segs = (streamId: string): SegmentRow[] =>
    Array.from({ length: 60 }, (_, seq) => ({
      streamId,
      rendition: "main",
      seq,
      byteLength: 1000,
      durationMs: 1000,
      producedAt: seq * 1000,
    }));
  return {
    sessions,
    receipts,
    segments: new Map([
      ["a", segs("a")],
      ["b", segs("b")],
    ]),
    n,
  };
}

function run(e: ReturnType<typeof randomEpoch>, params: Partial<EpochParams>) {
  const out = computeEpoch({
    epoch: 0,
    startsAt: 0,
    endsAt: 60_000,
    receipts: e.receipts,
    sessions: e.sessions,
    creditedSoFar: new Map(),
    segments: e.segments,
    maxInitBytes: new Map(),
    quality: new Map(),
    // The few-identities rule off: it is another rule, and it would zero whole rows here.
    params: { ...EPOCH_PARAMS, collusionMinSessions: 1e9, ...params },
  });
  const bySubnet = new Map<string, number>();
  for (const c of out.credits)
    bySubnet.set(c.nodeId, (bySubnet.get(c.nodeId) ?? 0) + c.creditedBytes / PRODUCED);
  const bySite = new Map<string, number>();
  for (const [subnet, worth] of bySubnet) {
    const site = subnet.split("/")[0] as string;
    bySite.set(site, (bySite.get(site) ?? 0) + worth);
  }
  return { bySubnet, bySite };
}

describe("the subnet cap then the site cap, on random epochs", () => {
  it("keep every subnet and site within 3 sessions' worth, and each site at min(3, what the subnet cap left)", () => {
    const rnd = mulberry32(20_261_127);
    const off = 1e9;
    for (let k = 0; k < 400; k++) {
      const e = randomEpoch(rnd);
      const both = run(e, {});
      const subnetOnly = run(e, { maxSessionsPerSite: off });
      const siteOnly = run(e, { maxSessionsPerSubnet: off });
      const slack = e.n / PRODUCED; // floor: under 1 byte per credited session
      for (const w of both.bySubnet.values()) expect(w).toBeLessThanOrEqual(3 + 1e-9);
      for (const [site, w] of both.bySite) {
        expect(w).toBeLessThanOrEqual(3 + 1e-9);
        expect(w).toBeLessThanOrEqual((subnetOnly.bySite.get(site) ?? 0) + 1e-9);
        expect(w).toBeLessThanOrEqual((siteOnly.bySite.get(site) ?? 0) + slack + 1e-9);
        expect(w).toBeGreaterThanOrEqual(Math.min(3, subnetOnly.bySite.get(site) ?? 0) - 2 * slack);
      }
    }
  });
});
