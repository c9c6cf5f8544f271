import { type ReceiptBatch, receiptAdvance, SrpError, type Ticket } from "@streamrp2p/protocol";
import type { ReceiptVerifier } from "./receipt-verifier.ts";
import type { AccountingStore, SessionRow } from "./store.ts";

export interface IntakeResult {
  sessionId: string;
  /** "stored", "unchanged", or an error code. */
  outcome: string;
  message?: string;
}

/**
 * The ticket must be the one this coordinator issued for the session, field
 * by field: the signature check already binds them, this is the second lock
 * (a leaked or shared ticket key cannot re-bind an issued session to another
 * viewer key). Rows from before viewer keys were stored have none to compare.
 */
export function checkTicketMatchesSession(ticket: Ticket, session: SessionRow | undefined): SessionRow {
  if (!session) throw new SrpError("VALIDATION_FAILED", "no such session was issued");
  if (
    (session.viewerKey !== null && session.viewerKey !== ticket.viewerKey) ||
    session.streamId !== ticket.streamId ||
    session.issuedAt !== ticket.issuedAt ||
    session.expiresAt !== ticket.expiresAt
  ) {
    throw new SrpError("VALIDATION_FAILED", "ticket differs from the session this coordinator issued");
  }
  return session;
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
      await verifier.verify(sub, submittingNode, now, ticketGraceMs);
      const session = checkTicketMatchesSession(sub.ticket, sessions.get(receipt.sessionId));
      if (receipt.issuedAt < session.issuedAt)
        throw new SrpError("VALIDATION_FAILED", "receipt predates its session");
      const held = await store.getReceipt(receipt.sessionId, receipt.nodeId);
      if (receiptAdvance(held, receipt) === "same") {
        results.push({ sessionId: receipt.sessionId, outcome: "unchanged" });
        continue;
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
