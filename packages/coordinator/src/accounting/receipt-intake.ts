import { type ReceiptBatch, SrpError } from "@streamrp2p/protocol";
import type { ReceiptVerifier } from "./receipt-verifier.ts";
import type { AccountingStore } from "./store.ts";

export interface IntakeResult {
  sessionId: string;
  /** "stored", "unchanged", or an error code. */
  outcome: string;
  message?: string;
}

/**
 * Takes a relay's batch of latest receipts: each is verified (signatures,
 * ticket, node), must belong to a session this coordinator issued, and must
 * move forward from what is held. Bad items are refused one by one; the
 * good ones in the same batch are kept.
 */
export async function intakeReceipts(
  store: AccountingStore,
  verifier: ReceiptVerifier,
  submittingNode: string,
  batch: ReceiptBatch,
  now: number,
  ticketGraceMs: number,
): Promise<IntakeResult[]> {
  const sessions = new Map(
    (await store.getSessions([...new Set(batch.submissions.map((s) => s.ticket.sessionId))])).map((s) => [
      s.sessionId,
      s,
    ]),
  );
  const results: IntakeResult[] = [];
  for (const sub of batch.submissions) {
    const { receipt } = sub;
    try {
      verifier.verify(sub, submittingNode, now, ticketGraceMs);
      const session = sessions.get(receipt.sessionId);
      if (!session) throw new SrpError("VALIDATION_FAILED", "no such session was issued");
      if (receipt.issuedAt < session.issuedAt)
        throw new SrpError("VALIDATION_FAILED", "receipt predates its session");
      const held = await store.getReceipt(receipt.sessionId, receipt.nodeId);
      if (held && held.issuedAt === receipt.issuedAt && held.bytes === receipt.bytes) {
        results.push({ sessionId: receipt.sessionId, outcome: "unchanged" });
        continue;
      }
      if (
        held &&
        (receipt.issuedAt <= held.issuedAt ||
          receipt.bytes < held.bytes ||
          receipt.segments < held.segments ||
          receipt.lastSeq < held.lastSeq)
      ) {
        throw new SrpError(
          "NOT_MONOTONIC",
          "older than, or behind, the receipt held for this session (replay?)",
        );
      }
      await store.putReceipt({
        sessionId: receipt.sessionId,
        nodeId: receipt.nodeId,
        streamId: receipt.streamId,
        bytes: receipt.bytes,
        segments: receipt.segments,
        lastSeq: receipt.lastSeq,
        issuedAt: receipt.issuedAt,
        json: JSON.stringify(sub),
      });
      results.push({ sessionId: receipt.sessionId, outcome: "stored" });
    } catch (err) {
      if (!(err instanceof SrpError)) throw err;
      results.push({ sessionId: receipt.sessionId, outcome: err.code, message: err.message });
    }
  }
  return results;
}
