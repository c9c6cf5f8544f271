import { type Receipt, type ReceiptSubmission, signReceipt, type Ticket } from "@streamrp2p/protocol";
import type { PoolNode } from "./node-pool.ts";

interface Tally {
  node: PoolNode;
  bytes: number;
  segments: number;
  lastSeq: number;
  /** Counters last signed; a node is only sent a receipt when they changed. */
  sentBytes: number;
}

export type SendReceipt = (node: PoolNode, submission: ReceiptSubmission) => Promise<void>;

/**
 * Cumulative receipts, one stream per node: only the latest matters, so a
 * lost receipt costs nothing and verification is O(sessions).
 */
export class ReceiptTracker {
  readonly #tallies = new Map<string, Tally>();
  #flushing: Promise<void> | undefined;
  sent = 0;
  failed = 0;

  constructor(
    private readonly ticket: Ticket,
    private readonly viewerKey: CryptoKey,
    private readonly send: SendReceipt,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts verified bytes from `node`; `seq` is -1 for an init segment. */
  record(node: PoolNode, bytes: number, seq: number): void {
    let t = this.#tallies.get(node.nodeId);
    if (!t) {
      t = { node, bytes: 0, segments: 0, lastSeq: -1, sentBytes: 0 };
      this.#tallies.set(node.nodeId, t);
    }
    t.bytes += bytes;
    if (seq >= 0) {
      t.segments += 1;
      t.lastSeq = Math.max(t.lastSeq, seq);
    }
  }

  /** Bytes counted per node id. */
  totals(): Record<string, number> {
    return Object.fromEntries([...this.#tallies].map(([id, t]) => [id, t.bytes]));
  }

  /** Signs and sends a receipt to every node whose tally changed. Never throws. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const due = [...this.#tallies.values()].filter((t) => t.bytes !== t.sentBytes);
    await Promise.all(
      due.map(async (t) => {
        const fields: Omit<Receipt, "signature"> = {
          sessionId: this.ticket.sessionId,
          nodeId: t.node.nodeId as `0x${string}`,
          streamId: this.ticket.streamId,
          bytes: t.bytes,
          segments: t.segments,
          lastSeq: t.lastSeq,
          issuedAt: this.now(),
        };
        try {
          const receipt = await signReceipt(this.viewerKey, fields);
          await this.send(t.node, { ticket: this.ticket, receipt });
          t.sentBytes = fields.bytes;
          this.sent += 1;
        } catch {
          this.failed += 1; // the next flush carries the same cumulative totals
        }
      }),
    );
  }
}
