import { concatBytes, sha256 } from "viem";
import { z } from "zod";
import { EvidenceSchema } from "./delivery.ts";
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

/** An Ed25519 check: WebCrypto by default; the coordinator passes Node's native one (synchronous, faster). */
export type Ed25519VerifyFn = (
  publicKey: string,
  signature: string,
  data: Uint8Array<ArrayBuffer>,
) => boolean | Promise<boolean>;

/**
 * Ticket signatures already checked, remembered by the SHA-256 of the key,
 * every signed field and the signature: a ticket that differs in any byte
 * (another session, viewer key or expiry under a reused signature) is a
 * different entry and is checked again. Bounded: when full it starts over.
 */
export class VerifiedTicketCache {
  readonly #digests = new Set<string>();

  constructor(private readonly maxEntries = 100_000) {}

  static digest(t: Ticket, publicKey: string): string {
    const signed = ticketSigningBytes(t);
    return sha256(concatBytes([utf8(`${publicKey}\n${t.signature}\n`), signed]));
  }

  has(digest: string): boolean {
    return this.#digests.has(digest);
  }

  add(digest: string): void {
    if (this.#digests.size >= this.maxEntries) this.#digests.clear();
    this.#digests.add(digest);
  }

  get size(): number {
    return this.#digests.size;
  }
}

export interface TicketCheckOptions {
  /** A receipt for a session whose ticket expired this long ago is still taken (ms; default 0). */
  graceMs?: number;
  verify?: Ed25519VerifyFn;
  cache?: VerifiedTicketCache;
}

/**
 * The one rule for a session ticket, for every party: signed by the
 * coordinator over all its fields, and not past its expiry (plus grace).
 * Throws BAD_SIGNATURE or TICKET_EXPIRED.
 */
export async function verifyTicket(
  t: Ticket,
  coordinatorPublicKey: string,
  now: number,
  graceOrOptions: number | TicketCheckOptions = 0,
): Promise<void> {
  const o = typeof graceOrOptions === "number" ? { graceMs: graceOrOptions } : graceOrOptions;
  const digest = o.cache ? VerifiedTicketCache.digest(t, coordinatorPublicKey) : undefined;
  if (digest === undefined || !o.cache?.has(digest)) {
    const ok = await (o.verify ?? ed25519Verify)(coordinatorPublicKey, t.signature, ticketSigningBytes(t));
    if (!ok) throw new SrpError("BAD_SIGNATURE", "ticket is not signed by the coordinator");
    if (digest !== undefined) o.cache?.add(digest);
  }
  if (now > t.expiresAt + (o.graceMs ?? 0)) throw new SrpError("TICKET_EXPIRED", "ticket has expired");
}

export async function signReceipt(viewerKey: CryptoKey, r: Omit<Receipt, "signature">): Promise<Receipt> {
  return { ...r, signature: await ed25519Sign(viewerKey, receiptSigningBytes(r)) };
}

/** Throws unless `r` belongs to `ticket`'s session and stream and is signed by its viewer key. */
export async function verifyReceipt(
  r: Receipt,
  ticket: Ticket,
  verify: Ed25519VerifyFn = ed25519Verify,
): Promise<void> {
  if (r.sessionId !== ticket.sessionId || r.streamId !== ticket.streamId) {
    throw new SrpError("VALIDATION_FAILED", "receipt does not belong to the ticket's session and stream");
  }
  if (!(await verify(ticket.viewerKey, r.signature, receiptSigningBytes(r)))) {
    throw new SrpError("BAD_SIGNATURE", "receipt is not signed by the session's viewer key");
  }
}

export interface SubmissionCheck extends TicketCheckOptions {
  /** The node that must be named in the receipt (the relay itself, or the submitting relay). */
  nodeId: string;
  ticketPublicKey: string;
  now: number;
}

/**
 * Everything a relay and the coordinator check on a (ticket, receipt) pair,
 * in this order: the receipt names the node, belongs to the ticket, the
 * ticket is the coordinator's and current, the receipt was signed before the
 * ticket ran out, and the viewer key signed it. Throws FOREIGN_RECEIPT,
 * VALIDATION_FAILED, BAD_SIGNATURE or TICKET_EXPIRED.
 */
export async function verifySubmission(sub: ReceiptSubmission, c: SubmissionCheck): Promise<void> {
  const { ticket, receipt } = sub;
  if (receipt.nodeId !== c.nodeId)
    throw new SrpError("FOREIGN_RECEIPT", `receipt names node ${receipt.nodeId}, not ${c.nodeId}`);
  if (receipt.sessionId !== ticket.sessionId || receipt.streamId !== ticket.streamId) {
    throw new SrpError("VALIDATION_FAILED", "receipt does not belong to the ticket's session and stream");
  }
  await verifyTicket(ticket, c.ticketPublicKey, c.now, c);
  if (receipt.issuedAt > ticket.expiresAt + (c.graceMs ?? 0))
    throw new SrpError("TICKET_EXPIRED", "receipt is dated past its ticket's expiry");
  await verifyReceipt(receipt, ticket, c.verify);
}

/** What orders two cumulative receipts of one (session, node). */
export type ReceiptProgress = Pick<Receipt, "bytes" | "segments" | "lastSeq" | "issuedAt">;

/**
 * The one "does this receipt advance that one" rule. "same": a resend of the
 * receipt held; "advances": newer, and no counter went backwards. Anything
 * else (older, or a counter behind) throws NOT_MONOTONIC: a replay or a
 * rollback. `held` undefined: the first receipt, which advances.
 */
export function receiptAdvance(
  held: ReceiptProgress | undefined,
  next: ReceiptProgress,
): "same" | "advances" {
  if (!held) return "advances";
  if (
    next.issuedAt === held.issuedAt &&
    next.bytes === held.bytes &&
    next.segments === held.segments &&
    next.lastSeq === held.lastSeq
  ) {
    return "same";
  }
  if (next.issuedAt <= held.issuedAt)
    throw new SrpError("NOT_MONOTONIC", "receipt is not newer than the one held (replay?)");
  if (next.bytes < held.bytes || next.segments < held.segments || next.lastSeq < held.lastSeq)
    throw new SrpError("NOT_MONOTONIC", "cumulative receipt went backwards");
  return "advances";
}

/**
 * A viewer's tamper report (`POST /v1/evidence`): the evidence and the
 * viewer's own session ticket for that stream. Only a viewer that was sent
 * the bytes can report them, and reports are counted per session.
 */
export const EvidenceReportSchema = EvidenceSchema.extend({ ticket: TicketSchema });
export type EvidenceReport = z.infer<typeof EvidenceReportSchema>;

/** A relay's periodic upload of the latest receipt of each session it served. */
export const ReceiptBatchSchema = z.strictObject({
  nodeId: AddressSchema,
  submissions: z.array(ReceiptSubmissionSchema).max(5_000),
});
export type ReceiptBatch = z.infer<typeof ReceiptBatchSchema>;
