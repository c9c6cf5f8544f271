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

function ticketSigningText(t: Omit<Ticket, "signature">): string {
  return ["srp-ticket-v1", t.sessionId, t.streamId, t.viewerKey, t.issuedAt, t.expiresAt].join("\n");
}

export function ticketSigningBytes(t: Omit<Ticket, "signature">): Uint8Array<ArrayBuffer> {
  return utf8(ticketSigningText(t));
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
 * Ticket signatures already checked, each remembered with everything it was
 * checked over (the coordinator key and every signed field, as signed): a
 * ticket that differs in any field (another session, viewer key or expiry
 * under a reused signature) does not match and is checked again. Stronger
 * than a digest and cheaper (a string comparison, no hashing per receipt).
 * Bounded: when full it starts over.
 */
export class VerifiedTicketCache {
  /** signature → the signed text and key it was verified over. */
  readonly #verified = new Map<string, string>();

  constructor(private readonly maxEntries = 100_000) {}

  static material(t: Ticket, publicKey: string): string {
    return `${publicKey}\n${ticketSigningText(t)}`;
  }

  has(t: Ticket, publicKey: string): boolean {
    return this.#verified.get(t.signature) === VerifiedTicketCache.material(t, publicKey);
  }

  add(t: Ticket, publicKey: string): void {
    if (this.#verified.size >= this.maxEntries) this.#verified.clear();
    this.#verified.set(t.signature, VerifiedTicketCache.material(t, publicKey));
  }

  get size(): number {
    return this.#verified.size;
  }
}

export interface TicketCheckOptions {
  /** A receipt for a session whose ticket expired this long ago is still taken (ms; default 0). */
  graceMs?: number;
  verify?: Ed25519VerifyFn;
  cache?: VerifiedTicketCache;
}

/** Synchronous Ed25519 (Node's native): lets a party check the rules without a promise per receipt. */
export type Ed25519VerifySync = (
  publicKey: string,
  signature: string,
  data: Uint8Array<ArrayBuffer>,
) => boolean;

/**
 * The one rule for a session ticket, for every party: signed by the
 * coordinator over all its fields, and not past its expiry (plus grace).
 * `signatureOk` answers whether the coordinator's key signed it (asked only
 * when the cache does not already know). Throws BAD_SIGNATURE or TICKET_EXPIRED.
 */
function ticketRule(
  t: Ticket,
  coordinatorPublicKey: string,
  now: number,
  o: Omit<TicketCheckOptions, "verify">,
  signatureOk: () => boolean,
): void {
  if (!o.cache?.has(t, coordinatorPublicKey)) {
    if (!signatureOk()) throw new SrpError("BAD_SIGNATURE", "ticket is not signed by the coordinator");
    o.cache?.add(t, coordinatorPublicKey);
  }
  if (now > t.expiresAt + (o.graceMs ?? 0)) throw new SrpError("TICKET_EXPIRED", "ticket has expired");
}

/** The ticket rule with an asynchronous (or any) Ed25519. */
export async function verifyTicket(
  t: Ticket,
  coordinatorPublicKey: string,
  now: number,
  graceOrOptions: number | TicketCheckOptions = 0,
): Promise<void> {
  const o = typeof graceOrOptions === "number" ? { graceMs: graceOrOptions } : graceOrOptions;
  const known = o.cache?.has(t, coordinatorPublicKey) ?? false;
  const ok =
    known || (await (o.verify ?? ed25519Verify)(coordinatorPublicKey, t.signature, ticketSigningBytes(t)));
  ticketRule(t, coordinatorPublicKey, now, o, () => ok);
}

/** The ticket rule with a synchronous Ed25519. */
export function checkTicket(
  t: Ticket,
  coordinatorPublicKey: string,
  now: number,
  o: Omit<TicketCheckOptions, "verify"> & { verify: Ed25519VerifySync },
): void {
  ticketRule(t, coordinatorPublicKey, now, o, () =>
    o.verify(coordinatorPublicKey, t.signature, ticketSigningBytes(t)),
  );
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
 * ticket ran out, and the viewer key signed it. The two signature answers come
 * from the caller (`ticketSignatureOk`, `receiptSignatureOk`), so the same rule
 * runs with a synchronous or an asynchronous Ed25519. Throws FOREIGN_RECEIPT,
 * VALIDATION_FAILED, BAD_SIGNATURE or TICKET_EXPIRED.
 */
function submissionRule(
  sub: ReceiptSubmission,
  c: Omit<SubmissionCheck, "verify">,
  ticketSignatureOk: () => boolean,
  receiptSignatureOk: () => boolean,
): void {
  const { ticket, receipt } = sub;
  submissionShape(sub, c.nodeId);
  ticketRule(ticket, c.ticketPublicKey, c.now, c, ticketSignatureOk);
  if (receipt.issuedAt > ticket.expiresAt + (c.graceMs ?? 0))
    throw new SrpError("TICKET_EXPIRED", "receipt is dated past its ticket's expiry");
  if (!receiptSignatureOk())
    throw new SrpError("BAD_SIGNATURE", "receipt is not signed by the session's viewer key");
}

/** The cheap part of the rule, first, so that a malformed submission costs no signature check. */
function submissionShape(sub: ReceiptSubmission, nodeId: string): void {
  const { ticket, receipt } = sub;
  if (receipt.nodeId !== nodeId)
    throw new SrpError("FOREIGN_RECEIPT", `receipt names node ${receipt.nodeId}, not ${nodeId}`);
  if (receipt.sessionId !== ticket.sessionId || receipt.streamId !== ticket.streamId) {
    throw new SrpError("VALIDATION_FAILED", "receipt does not belong to the ticket's session and stream");
  }
}

/** The submission rule with an asynchronous (or any) Ed25519: the signatures are checked first, then the rule. */
export async function verifySubmission(sub: ReceiptSubmission, c: SubmissionCheck): Promise<void> {
  const verify = c.verify ?? ed25519Verify;
  const { ticket, receipt } = sub;
  submissionShape(sub, c.nodeId);
  const known = c.cache?.has(ticket, c.ticketPublicKey) ?? false;
  const ticketOk = known || (await verify(c.ticketPublicKey, ticket.signature, ticketSigningBytes(ticket)));
  const receiptOk = await verify(ticket.viewerKey, receipt.signature, receiptSigningBytes(receipt));
  submissionRule(
    sub,
    c,
    () => ticketOk,
    () => receiptOk,
  );
}

/** The submission rule with a synchronous Ed25519 (no promise per receipt: the coordinator's hot path). */
export function checkSubmission(
  sub: ReceiptSubmission,
  c: Omit<SubmissionCheck, "verify"> & { verify: Ed25519VerifySync },
): void {
  const { ticket, receipt } = sub;
  submissionRule(
    sub,
    c,
    () => c.verify(c.ticketPublicKey, ticket.signature, ticketSigningBytes(ticket)),
    () => c.verify(ticket.viewerKey, receipt.signature, receiptSigningBytes(receipt)),
  );
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
