import { createHash } from "node:crypto";
import { computeEpoch } from "@streamrp2p/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingHarness, type EpochBody, SEG, type Viewer } from "./support/accounting-harness.ts";

interface PublishedInputs {
  params: Parameters<typeof computeEpoch>[0]["params"];
  receipts: Array<{
    sessionId: string;
    nodeId: string;
    streamId: string;
    bytes: number;
    segments: number;
    lastSeq: number;
    issuedAt: number;
  }>;
  sessions: Array<{
    sessionId: string;
    streamId: string;
    subnet: string;
    site: string;
    issuedAt: number;
    expiresAt: number;
  }>;
  creditedBefore: Record<string, number>;
  segments: Record<string, Array<[number, number, number]>>;
  maxInitBytes: Record<string, number>;
  reputations: Record<string, { quality: number }>;
}

describe("attack: viewer data in public epoch inputs (issue 10, finding 4)", () => {
  const h = new AccountingHarness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  async function epochWith(addrs: string[]): Promise<{ raw: string; body: EpochBody; viewers: Viewer[] }> {
    const viewers = await Promise.all(addrs.map((a) => h.viewer("show", a)));
    await h.produce(10);
    h.t += 10_000;
    for (const v of viewers)
      await h.submit([
        { ticket: v.ticket, receipt: await h.receipt(v, { bytes: 5 * SEG, segments: 5, lastSeq: 5 }) },
      ]);
    const closed = await h.closeEpoch();
    const raw = await (await fetch(`${h.coordinator.url}/v1/epochs/${closed.epoch}`)).text();
    return { raw, body: closed, viewers };
  }

  it("publishes no client address, viewer key or signature; subnets as per-epoch keyed hashes; enough to recompute every credit", async () => {
    await h.closeEpoch();
    const { raw, body, viewers } = await epochWith(["127.0.70.5", "127.0.70.6", "127.0.71.5"]);
    expect(raw).not.toMatch(/127\.0\.7/);
    for (const v of viewers) {
      expect(raw).not.toContain(v.ticket.signature);
      expect(raw).not.toContain(v.publicKey);
    }
    expect(raw).not.toMatch(/"signature"|"ticket"|"clientAddr"|"viewerKey"/);
    const inputs = body.inputs as unknown as PublishedInputs;
    const subnetOf = (v: Viewer) => inputs.sessions.find((s) => s.sessionId === v.ticket.sessionId)?.subnet;
    const [a, b, c] = viewers.map(subnetOf);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).toBe(b); // one /24: one identifier, as the caps need
    expect(a).not.toBe(c);
    // The site (IPv4: the /24 again) is published keyed the same way, never in the clear, and
    // in its own domain: equal to its subnet's identifier it would tell IPv4 sessions from IPv6.
    const siteOf = (v: Viewer) => inputs.sessions.find((s) => s.sessionId === v.ticket.sessionId)?.site;
    const [sa, sb, sc] = viewers.map(siteOf);
    expect(sa).toMatch(/^[0-9a-f]{32}$/);
    expect(sa).toBe(sb);
    expect(sa).not.toBe(sc);
    for (const s of [a, b, c]) expect([sa, sc]).not.toContain(s);
    // Not a plain hash of the subnet (which anyone could invert by hashing all 2^24 /24s).
    for (const text of ["127.0.70.0/24", "127.0.70.5"])
      expect(createHash("sha256").update(text).digest("hex")).not.toContain(a);

    // Anyone can recompute the credits from the published inputs alone.
    const out = computeEpoch({
      epoch: body.epoch,
      startsAt: (body as unknown as { startsAt: number }).startsAt,
      endsAt: (body as unknown as { endsAt: number }).endsAt,
      receipts: inputs.receipts.map((r) => ({ ...r, json: "" })),
      sessions: new Map(
        inputs.sessions.map((s) => [s.sessionId, { ...s, viewerKey: null, clientAddr: "", isProbe: false }]),
      ),
      creditedSoFar: new Map(Object.entries(inputs.creditedBefore)),
      segments: new Map(
        Object.entries(inputs.segments).map(([id, segs]) => [
          id,
          segs.map(([seq, byteLength, producedAt]) => ({
            streamId: id,
            rendition: "main",
            seq,
            byteLength,
            durationMs: 0,
            producedAt,
          })),
        ]),
      ),
      maxInitBytes: new Map(Object.entries(inputs.maxInitBytes)),
      quality: new Map(Object.entries(inputs.reputations).map(([id, r]) => [id, r.quality])),
      params: inputs.params,
    });
    expect(out.credits).toEqual(body.credits);
    expect(body.credits[0]?.creditedBytes).toBe(15 * SEG);

    // The next epoch's key differs: the same /24 cannot be followed from epoch to epoch.
    const next = await epochWith(["127.0.70.7"]);
    const nextInputs = next.body.inputs as unknown as PublishedInputs;
    expect(nextInputs.sessions[0]?.subnet).toMatch(/^[0-9a-f]{32}$/);
    expect(nextInputs.sessions[0]?.subnet).not.toBe(a);
  });
});
