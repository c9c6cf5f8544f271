import { z } from "zod";
import { ed25519Sign, ed25519Verify } from "./ed25519.ts";
import { utf8 } from "./encoding.ts";
import { SrpError } from "./errors.ts";
import { AddressSchema, StreamIdSchema } from "./ids.ts";

const B64URL_KEY = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "Ed25519 public key: 43 base64url chars");
const B64URL_SIG = z.string().regex(/^[A-Za-z0-9_-]{86}$/, "Ed25519 signature: 86 base64url chars");
export const SessionIdSchema = z.string().regex(/^[0-9a-f]{32}$/, "session id: 32 hex digits");

/**
 * The coordinator's grant of one viewing session: binds the viewer's
 * ephemeral Ed25519 key to a stream for a while. Rate-limited per client, so
 * fake viewers cost something.
 */
export const TicketSchema = z.strictObject({
  sessionId: SessionIdSchema,
  streamId: StreamIdSchema,
  viewerKey: B64URL_KEY,
  issuedAt: z.number().int().nonnegative(),
  expiresAt: z.number().int().nonnegative(),
  signature: B64URL_SIG,
});
export type Ticket = z.infer<typeof TicketSchema>;

/** A viewer's cumulative statement of what one node delivered in one session. Only the latest matters. */
export const ReceiptSchema = z.strictObject({
  sessionId: SessionIdSchema,
  nodeId: AddressSchema,
  streamId: StreamIdSchema,
  /** Verified media bytes received from this node in this session, cumulative. */
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  segments: z.number().int().nonnegative(),
  /** Highest media sequence received from this node; -1 before any. */
  lastSeq: z.number().int().min(-1),
  issuedAt: z.number().int().nonnegative(),
  signature: B64URL_SIG,
});
export type Receipt = z.infer<typeof ReceiptSchema>;

export const ReceiptSubmissionSchema = z.strictObject({ ticket: TicketSchema, receipt: ReceiptSchema });
export type ReceiptSubmission = z.infer<typeof ReceiptSubmissionSchema>;

export function ticketSigningBytes(t: Omit<Ticket, "signature">): Uint8Array<ArrayBuffer> {
  return utf8(["srp-ticket-v1", t.sessionId, t.streamId, t.viewerKey, t.issuedAt, t.expiresAt].join("\n"));
}

export function receiptSigningBytes(r: Omit<Receipt, "signature">): Uint8Array<ArrayBuffer> {
  return utf8(
    ["srp-receipt-v1", r.sessionId, r.nodeId, r.streamId, r.bytes, r.segments, r.lastSeq, r.issuedAt].join(
      "\n",
    ),
  );
}

export async function signTicket(coordinatorKey: CryptoKey, t: Omit<Ticket, "signature">): Promise<Ticket> {
  return { ...t, signature: await ed25519Sign(coordinatorKey, ticketSigningBytes(t)) };
}

/** Throws BAD_SIGNATURE or TICKET_EXPIRED. `graceMs` lets a receipt for a just-expired session through. */
export async function verifyTicket(
  t: Ticket,
  coordinatorPublicKey: string,
  now: number,
  graceMs = 0,
): Promise<void> {
  if (!(await ed25519Verify(coordinatorPublicKey, t.signature, ticketSigningBytes(t)))) {
    throw new SrpError("BAD_SIGNATURE", "ticket is not signed by the coordinator");
  }
  if (now > t.expiresAt + graceMs) throw new SrpError("TICKET_EXPIRED", "ticket has expired");
}

export async function signReceipt(viewerKey: CryptoKey, r: Omit<Receipt, "signature">): Promise<Receipt> {
  return { ...r, signature: await ed25519Sign(viewerKey, receiptSigningBytes(r)) };
}

/** Throws unless `r` belongs to `ticket`'s session and stream and is signed by its viewer key. */
export async function verifyReceipt(r: Receipt, ticket: Ticket): Promise<void> {
  if (r.sessionId !== ticket.sessionId || r.streamId !== ticket.streamId) {
    throw new SrpError("VALIDATION_FAILED", "receipt does not belong to the ticket's session and stream");
  }
  if (!(await ed25519Verify(ticket.viewerKey, r.signature, receiptSigningBytes(r)))) {
    throw new SrpError("BAD_SIGNATURE", "receipt is not signed by the session's viewer key");
  }
}

/** A relay's periodic upload of the latest receipt of each session it served. */
export const ReceiptBatchSchema = z.strictObject({
  nodeId: AddressSchema,
  submissions: z.array(ReceiptSubmissionSchema).max(5_000),
});
export type ReceiptBatch = z.infer<typeof ReceiptBatchSchema>;
