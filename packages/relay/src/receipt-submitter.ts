import type { CoordinatorClient } from "@streamrp2p/api-client";
import type { Logger } from "@streamrp2p/service";
import type { ReceiptStore } from "./receipt-store.ts";

const MAX_BATCH = 5_000; // receipts per request (the coordinator's limit)

/**
 * Uploads the latest receipt of every session that changed, in batches, on
 * a timer and once more when the relay stops. What fails is kept for the
 * next round; what the coordinator refuses is logged, not retried.
 */
export class ReceiptSubmitter {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  submitted = 0;

  constructor(
    private readonly d: {
      client: CoordinatorClient;
      store: ReceiptStore;
      nodeId: string;
      token: () => string | undefined;
      log: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.submit(), this.d.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.submit();
  }

  submit(): Promise<void> {
    this.#running ??= this.#submit().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #submit(): Promise<void> {
    const token = this.d.token();
    if (!token) return;
    const { receipts, restore } = this.d.store.takeDirty();
    for (let i = 0; i < receipts.length; i += MAX_BATCH) {
      const slice = receipts.slice(i, i + MAX_BATCH);
      try {
        const { results } = await this.d.client.submitReceipts(token, {
          nodeId: this.d.nodeId as `0x${string}`,
          submissions: slice.map((r) => ({ ticket: r.ticket, receipt: r.receipt })),
        });
        this.submitted += results.filter((r) => r.outcome === "stored").length;
        const refused = results.filter((r) => r.outcome !== "stored" && r.outcome !== "unchanged");
        if (refused.length > 0)
          this.d.log.warn("coordinator refused receipts", {
            refused: refused.slice(0, 5),
            count: refused.length,
          });
      } catch (err) {
        restore();
        this.d.log.warn("receipt submission failed; will retry", { err });
        return;
      }
    }
  }
}
