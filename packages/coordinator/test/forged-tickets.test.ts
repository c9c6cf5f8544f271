import { generateEd25519, signReceipt, signTicket, type Ticket } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingHarness, SEG } from "./support/accounting-harness.ts";

describe("attack: forged session tickets (issue 10, finding 1)", () => {
  const h = new AccountingHarness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it("refuses tickets that reuse an honest ticket's signature over another session, viewer key or expiry, and credits none of them", async () => {
    await h.produce(30);
    h.t += 30_000;
    // The operator's own viewer: one honest session, whose receipt is accepted (and its ticket remembered).
    const honest = await h.viewer();
    // Another viewer's session: its id is public (epoch inputs, relays' GET /v1/receipts).
    const victim = await h.viewer();
    expect(
      await h.submit([
        {
          ticket: honest.ticket,
          receipt: await h.receipt(honest, { bytes: 2 * SEG, segments: 2, lastSeq: 2 }),
        },
      ]),
    ).toEqual(["stored"]);

    const attacker = await generateEd25519();
    const reuse = (changes: Partial<Ticket>): Ticket => ({ ...honest.ticket, ...changes });
    const forgeries: Array<{ what: string; ticket: Ticket; key: CryptoKey }> = [
      // An issued session of someone else, bound to the attacker's key.
      {
        what: "victim session, own key",
        ticket: reuse({ sessionId: victim.ticket.sessionId, viewerKey: attacker.publicKey }),
        key: attacker.privateKey,
      },
      // An invented session id, with the honest viewer key (the operator holds that private key).
      { what: "invented session", ticket: reuse({ sessionId: "ab".repeat(16) }), key: honest.key },
      // The victim's session under the honest viewer's key.
      {
        what: "victim session, honest key",
        ticket: reuse({ sessionId: victim.ticket.sessionId }),
        key: honest.key,
      },
      // The honest session itself, re-bound to the attacker's key.
      {
        what: "own session, other key",
        ticket: reuse({ viewerKey: attacker.publicKey }),
        key: attacker.privateKey,
      },
      // The honest session with its life extended by a year.
      {
        what: "later expiry",
        ticket: reuse({ expiresAt: honest.ticket.expiresAt + 365 * 86_400_000 }),
        key: honest.key,
      },
    ];
    for (const f of forgeries) {
      h.t += 10;
      const receipt = await signReceipt(f.key, {
        sessionId: f.ticket.sessionId,
        nodeId: h.nodeId,
        streamId: "show",
        bytes: 25 * SEG,
        segments: 25,
        lastSeq: 29,
        issuedAt: h.t,
      });
      const res = await h.client.submitReceipts(h.token, {
        nodeId: h.nodeId,
        submissions: [{ ticket: f.ticket, receipt }],
      });
      expect(res.results[0], f.what).toMatchObject({ outcome: "BAD_SIGNATURE" });
    }
    // Nothing stored beyond the honest receipt.
    expect(await h.store.accounting.getReceipt(victim.ticket.sessionId, h.nodeId)).toBeUndefined();
    expect(await h.store.accounting.getReceipt("ab".repeat(16), h.nodeId)).toBeUndefined();
    expect((await h.store.accounting.getReceipt(honest.ticket.sessionId, h.nodeId))?.bytes).toBe(2 * SEG);

    const epoch = await h.closeEpoch();
    const credit = epoch.credits.find((c) => c.nodeId === h.nodeId);
    expect(credit?.creditedBytes).toBe(2 * SEG); // the honest receipt, nothing else
    const checked = epoch.inputs.sessionChecks.map((c) => c.sessionId);
    expect(checked).toEqual([honest.ticket.sessionId]);
  });

  it("refuses a ticket signed with the coordinator's key that does not match the session row (viewer key kept at issue)", async () => {
    // Defence in depth: even a correctly signed ticket (a leaked key, a replica's mistake) cannot
    // re-bind an issued session to another viewer key, because the row keeps the one issued.
    const victim = await h.viewer();
    const attacker = await generateEd25519();
    const { signature: _, ...fields } = victim.ticket;
    const rebound = await signTicket(h.ticketKey.privateKey, { ...fields, viewerKey: attacker.publicKey });
    h.t += 10;
    const receipt = await signReceipt(attacker.privateKey, {
      sessionId: victim.ticket.sessionId,
      nodeId: h.nodeId,
      streamId: "show",
      bytes: SEG,
      segments: 1,
      lastSeq: 1,
      issuedAt: h.t,
    });
    const res = await h.client.submitReceipts(h.token, {
      nodeId: h.nodeId,
      submissions: [{ ticket: rebound, receipt }],
    });
    expect(res.results[0]).toMatchObject({
      outcome: "VALIDATION_FAILED",
      message: expect.stringMatching(/differs from the session/),
    });
    expect(await h.store.accounting.getReceipt(victim.ticket.sessionId, h.nodeId)).toBeUndefined();
  });
});
