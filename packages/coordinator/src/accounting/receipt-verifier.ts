import {
  type ReceiptSubmission,
  receiptSigningBytes,
  SrpError,
  ticketSigningBytes,
} from "@streamrp2p/protocol";
import { verifyEd25519Native } from "@streamrp2p/service";

const MAX_CACHED_TICKETS = 200_000;

/**
 * Checks receipts with native Ed25519, synchronously. A session sends many
 * receipts under one ticket, so a ticket's signature is checked once and
 * remembered: the steady state is one signature check per receipt.
 */
export class ReceiptVerifier {
  readonly #verifiedTickets = new Set<string>();

  constructor(private readonly ticketPublicKey: string) {}

  /** Throws SrpError (BAD_SIGNATURE, FOREIGN_RECEIPT, TICKET_EXPIRED, VALIDATION_FAILED) unless `sub` is valid. */
  verify(sub: ReceiptSubmission, submittingNode: string, now: number, ticketGraceMs: number): void {
    const { ticket, receipt } = sub;
    if (receipt.nodeId !== submittingNode)
      throw new SrpError("FOREIGN_RECEIPT", `receipt names node ${receipt.nodeId}, not the submitter`);
    if (receipt.sessionId !== ticket.sessionId || receipt.streamId !== ticket.streamId) {
      throw new SrpError("VALIDATION_FAILED", "receipt does not belong to the ticket's session and stream");
    }
    if (!this.#verifiedTickets.has(ticket.signature)) {
      if (!verifyEd25519Native(this.ticketPublicKey, ticket.signature, ticketSigningBytes(ticket))) {
        throw new SrpError("BAD_SIGNATURE", "ticket is not signed by this coordinator");
      }
      if (this.#verifiedTickets.size >= MAX_CACHED_TICKETS) this.#verifiedTickets.clear();
      this.#verifiedTickets.add(ticket.signature);
    }
    if (receipt.issuedAt > ticket.expiresAt + ticketGraceMs || now > ticket.expiresAt + ticketGraceMs) {
      throw new SrpError("TICKET_EXPIRED", "receipt is past its ticket's expiry");
    }
    if (!verifyEd25519Native(ticket.viewerKey, receipt.signature, receiptSigningBytes(receipt))) {
      throw new SrpError("BAD_SIGNATURE", "receipt is not signed by the session's viewer key");
    }
  }
}
