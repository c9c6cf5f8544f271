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
}

/** A receipt for a session whose ticket expired this long ago is still taken: the last tally matters. */
const TICKET_GRACE_MS = 5 * 60_000;
const MAX_RECEIPTS = 100_000;

/**
 * The latest valid cumulative receipt per viewer session. Refuses forged
 * signatures, foreign tickets or nodes, and anything that goes backwards.
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
    } else if (this.#latest.size >= MAX_RECEIPTS) {
      throw new SrpError("UNAVAILABLE", "receipt store is full; submit to the coordinator first");
    }
    const stored = { ticket, receipt, receivedAt: now };
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

  get(sessionId: string): StoredReceipt | undefined {
    return this.#latest.get(sessionId);
  }

  list(streamId?: string): StoredReceipt[] {
    return [...this.#latest.values()].filter(
      (r) => streamId === undefined || r.receipt.streamId === streamId,
    );
  }
}
