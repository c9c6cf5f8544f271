import { checkSubmission, type ReceiptSubmission, VerifiedTicketCache } from "@streamrp2p/protocol";
import { verifyEd25519Native } from "@streamrp2p/service";

/** Tickets remembered as verified; an entry is ~400 bytes (signature and signed text), so ~40 MB at most. */
const MAX_CACHED_TICKETS = 100_000;

/**
 * Checks receipts with the protocol's one submission rule, synchronously, with
 * Node's native Ed25519. A session sends many receipts under one ticket, so a
 * verified ticket is remembered with everything it signs (never by its
 * signature alone): the steady state is one signature check per receipt.
 */
export class ReceiptVerifier {
  readonly #verifiedTickets = new VerifiedTicketCache(MAX_CACHED_TICKETS);

  constructor(private readonly ticketPublicKey: string) {}

  /** Throws SrpError (BAD_SIGNATURE, FOREIGN_RECEIPT, TICKET_EXPIRED, VALIDATION_FAILED) unless `sub` is valid. */
  verify(sub: ReceiptSubmission, submittingNode: string, now: number, ticketGraceMs: number): void {
    checkSubmission(sub, {
      nodeId: submittingNode,
      ticketPublicKey: this.ticketPublicKey,
      now,
      graceMs: ticketGraceMs,
      verify: verifyEd25519Native,
      cache: this.#verifiedTickets,
    });
  }
}
