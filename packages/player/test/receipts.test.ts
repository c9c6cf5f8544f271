import { ReceiptTracker } from "@streamrp2p/player";
import {
  generateEd25519,
  type ReceiptSubmission,
  signTicket,
  verifyReceipt,
  verifyTicket,
} from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";

async function setup() {
  const coordinator = await generateEd25519();
  const viewer = await generateEd25519();
  const ticket = await signTicket(coordinator.privateKey, {
    sessionId: "ab".repeat(16),
    streamId: "demo",
    viewerKey: viewer.publicKey,
    issuedAt: 1,
    expiresAt: 10_000_000_000_000,
  });
  return { coordinator, viewer, ticket };
}

const nodeA = { nodeId: `0x${"a".repeat(40)}`, url: "http://a", score: 1 };
const nodeB = { nodeId: `0x${"b".repeat(40)}`, url: "http://b", score: 1 };

describe("ReceiptTracker", () => {
  it("signs one cumulative receipt per node that verifies against the ticket", async () => {
    const { coordinator, viewer, ticket } = await setup();
    const sent: Array<{ node: string; sub: ReceiptSubmission }> = [];
    let t = 100;
    const tracker = new ReceiptTracker(
      ticket,
      viewer.privateKey,
      async (node, sub) => void sent.push({ node: node.nodeId, sub }),
      () => t++,
    );
    tracker.record(nodeA, 1000, -1); // init
    tracker.record(nodeA, 5000, 7);
    tracker.record(nodeB, 4000, 8);
    await tracker.flush();
    expect(sent.map((s) => s.node).sort()).toEqual([nodeA.nodeId, nodeB.nodeId]);
    const a = sent.find((s) => s.node === nodeA.nodeId)?.sub.receipt;
    expect(a).toMatchObject({
      bytes: 6000,
      segments: 1,
      lastSeq: 7,
      nodeId: nodeA.nodeId,
      sessionId: ticket.sessionId,
    });
    for (const s of sent) {
      await verifyTicket(s.sub.ticket, coordinator.publicKey, 200);
      await verifyReceipt(s.sub.receipt, s.sub.ticket);
    }
  });

  it("sends only to nodes whose tally changed, with growing totals", async () => {
    const { viewer, ticket } = await setup();
    const sent: ReceiptSubmission[] = [];
    const tracker = new ReceiptTracker(ticket, viewer.privateKey, async (_n, sub) => void sent.push(sub));
    tracker.record(nodeA, 100, 1);
    await tracker.flush();
    await tracker.flush(); // nothing new
    tracker.record(nodeA, 50, 2);
    await tracker.flush();
    expect(sent.map((s) => s.receipt.bytes)).toEqual([100, 150]);
    expect(sent[1]?.receipt.lastSeq).toBe(2);
  });

  it("keeps the totals when a send fails, so the next receipt carries them", async () => {
    const { viewer, ticket } = await setup();
    let fail = true;
    const sent: number[] = [];
    const tracker = new ReceiptTracker(ticket, viewer.privateKey, async (_n, sub) => {
      if (fail) throw new Error("relay down");
      sent.push(sub.receipt.bytes);
    });
    tracker.record(nodeA, 100, 1);
    await tracker.flush();
    expect(tracker.failed).toBe(1);
    fail = false;
    await tracker.flush();
    expect(sent).toEqual([100]);
  });

  it("a receipt altered after signing no longer verifies", async () => {
    const { viewer, ticket } = await setup();
    const sent: ReceiptSubmission[] = [];
    const tracker = new ReceiptTracker(ticket, viewer.privateKey, async (_n, sub) => void sent.push(sub));
    tracker.record(nodeA, 100, 1);
    await tracker.flush();
    const r = sent[0]?.receipt;
    if (!r) throw new Error("no receipt");
    await expect(verifyReceipt({ ...r, bytes: r.bytes * 10 }, ticket)).rejects.toMatchObject({
      code: "BAD_SIGNATURE",
    });
  });
});
