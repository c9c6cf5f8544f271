import {
  type Receipt,
  type ReceiptSubmission,
  receiptAdvance,
  SrpError,
  type Ticket,
  verifySubmission,
} from "@streamrp2p/protocol";

export interface StoredReceipt {
  ticket: Ticket;
  receipt: Receipt;
  receivedAt: number;
}

export interface ReceiptStoreDeps {
  nodeId: string;
  /** The coordinator's ticket-signing key (base64url raw Ed25519). */
  ticketPublicKey: () => Promise<string>;
  now?: () => number;
  /** Sessions held at most; default 100,000. */
  maxReceipts?: number;
}

/** A receipt for a session whose ticket expired this long ago is still taken: the last tally matters. */
const TICKET_GRACE_MS = 5 * 60_000;
const MAX_RECEIPTS = 100_000;
/** Receipts looked at per eviction pass when the store is full: bounds the work one request can cause. */
const EVICTION_SCAN = 1_000;

/**
 * The latest valid cumulative receipt per viewer session. Refuses forged
 * signatures, foreign tickets or nodes, and anything that goes backwards.
 * Bounded: a session's receipt is forgotten once it was submitted to the
 * coordinator and its ticket can take no more receipts, or, when the store is
 * full, once it was submitted (oldest first). Forgetting a submitted receipt
 * risks nothing: the coordinator holds it and refuses anything not newer.
 */
export class ReceiptStore {
  readonly #latest = new Map<string, StoredReceipt>();
  /** Sessions whose receipt changed since the last submission to the coordinator. */
  #dirty = new Set<string>();
  readonly #d: ReceiptStoreDeps;

  constructor(deps: ReceiptStoreDeps) {
    this.#d = deps;
  }

  async accept(sub: ReceiptSubmission): Promise<StoredReceipt> {
    const now = (this.#d.now ?? Date.now)();
    const { ticket, receipt } = sub;
    await verifySubmission(sub, {
      nodeId: this.#d.nodeId,
      ticketPublicKey: await this.#d.ticketPublicKey(),
      now,
      graceMs: TICKET_GRACE_MS,
    });
    const prev = this.#latest.get(receipt.sessionId);
    if (prev) {
      if (receiptAdvance(prev.receipt, receipt) === "same")
        throw new SrpError("NOT_MONOTONIC", "receipt is not newer than the one held (replay?)");
    } else if (this.#latest.size >= (this.#d.maxReceipts ?? MAX_RECEIPTS) && this.#evict(now) === 0) {
      throw new SrpError("UNAVAILABLE", "receipt store is full of unsubmitted receipts; try again later");
    }
    const stored = { ticket, receipt, receivedAt: now };
    this.#latest.delete(receipt.sessionId); // re-insert: the map's order is least recently updated first
    this.#latest.set(receipt.sessionId, stored);
    this.#dirty.add(receipt.sessionId);
    return stored;
  }

  /** Receipts changed since the last call, for submission; `restore` puts them back if it fails. */
  takeDirty(): { receipts: StoredReceipt[]; restore: () => void } {
    const ids = this.#dirty;
    this.#dirty = new Set();
    const receipts = [...ids].flatMap((id) => this.#latest.get(id) ?? []);
    const restore = () => {
      for (const id of ids) this.#dirty.add(id);
    };
    return { receipts, restore };
  }

  /** Forgets receipts already submitted whose tickets take no more receipts. Returns how many. */
  sweep(): number {
    const now = (this.#d.now ?? Date.now)();
    let n = 0;
    for (const [id, r] of this.#latest) {
      if (!this.#dirty.has(id) && r.ticket.expiresAt + TICKET_GRACE_MS < now) {
        this.#latest.delete(id);
        n += 1;
      }
    }
    return n;
  }

  get size(): number {
    return this.#latest.size;
  }

  /** Full store: the expired first, else the least recently updated submitted receipts. */
  #evict(now: number): number {
    let scanned = 0;
    let evicted = 0;
    for (const [id, r] of this.#latest) {
      if (scanned++ >= EVICTION_SCAN) break;
      if (this.#dirty.has(id)) continue;
      if (r.ticket.expiresAt + TICKET_GRACE_MS < now || evicted < 1) {
        this.#latest.delete(id);
        evicted += 1;
      }
    }
    return evicted;
  }

  get(sessionId: string): StoredReceipt | undefined {
    return this.#latest.get(sessionId);
  }

  /** Up to `limit` receipts, newest first (no tickets: those stay between viewer, relay and coordinator). */
  list(streamId: string | undefined, limit: number): Receipt[] {
    const out: Receipt[] = [];
    const all = [...this.#latest.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const r = all[i] as StoredReceipt;
      if (streamId === undefined || r.receipt.streamId === streamId) out.push(r.receipt);
    }
    return out;
  }
}
