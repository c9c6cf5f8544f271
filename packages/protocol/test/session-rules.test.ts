import {
  generateEd25519,
  receiptAdvance,
  signTicket,
  VerifiedTicketCache,
  verifyTicket,
} from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";

describe("verifyTicket with a cache", () => {
  it("checks again any ticket that differs from a remembered one in a signed field, though it carries the same signature", async () => {
    const coordinator = await generateEd25519();
    const viewer = await generateEd25519();
    const ticket = await signTicket(coordinator.privateKey, {
      sessionId: "11".repeat(16),
      streamId: "show",
      viewerKey: viewer.publicKey,
      issuedAt: 100,
      expiresAt: 1_000,
    });
    const cache = new VerifiedTicketCache(10);
    await verifyTicket(ticket, coordinator.publicKey, 200, { cache });
    expect(cache.size).toBe(1);
    for (const changed of [
      { sessionId: "22".repeat(16) },
      { viewerKey: (await generateEd25519()).publicKey },
      { expiresAt: 9_999 },
      { issuedAt: 101 },
    ]) {
      await expect(
        verifyTicket({ ...ticket, ...changed }, coordinator.publicKey, 200, { cache }),
      ).rejects.toMatchObject({ code: "BAD_SIGNATURE" });
    }
    // The same ticket under another coordinator key is not the same verification either.
    const other = await generateEd25519();
    await expect(verifyTicket(ticket, other.publicKey, 200, { cache })).rejects.toMatchObject({
      code: "BAD_SIGNATURE",
    });
    await expect(verifyTicket(ticket, coordinator.publicKey, 2_000, { cache })).rejects.toMatchObject({
      code: "TICKET_EXPIRED",
    });
  });
});

describe("receiptAdvance", () => {
  const held = { bytes: 100, segments: 2, lastSeq: 5, issuedAt: 50 };
  it("tells a resend from a newer receipt, and refuses replays and rollbacks", () => {
    expect(receiptAdvance(undefined, held)).toBe("advances");
    expect(receiptAdvance(held, { ...held })).toBe("same");
    expect(receiptAdvance(held, { ...held, issuedAt: 51 })).toBe("advances");
    expect(receiptAdvance(held, { ...held, issuedAt: 51, bytes: 200, segments: 3, lastSeq: 6 })).toBe(
      "advances",
    );
    for (const bad of [
      { ...held, issuedAt: 49, bytes: 300 },
      { ...held, issuedAt: 50, bytes: 300 },
      { ...held, issuedAt: 51, bytes: 99 },
      { ...held, issuedAt: 51, segments: 1 },
      { ...held, issuedAt: 51, lastSeq: 4 },
    ]) {
      expect(() => receiptAdvance(held, bad)).toThrow(expect.objectContaining({ code: "NOT_MONOTONIC" }));
    }
  });
});
