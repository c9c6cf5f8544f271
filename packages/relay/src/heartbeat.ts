import type { CoordinatorClient } from "@streamrp2p/api-client";
import { type Heartbeat, isSrpError, type StreamEdge, signNodeRegistration } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";

export interface HeartbeatLoopDeps {
  client: CoordinatorClient;
  account: LocalAccount;
  log: Logger;
  intervalMs: number;
  registration: () => {
    url: string;
    region: string;
    capacityMbps: number;
    ingest: boolean;
    streams: string[];
  };
  snapshot: () => Heartbeat;
  /** What the coordinator wants carried, with the streams' live edges as its segment ledger has them. */
  onCarry: (streamIds: string[], edges: StreamEdge[]) => void;
}

/** Registers the node, then heartbeats its load; re-registers when the coordinator forgot it. */
export class HeartbeatLoop {
  readonly #d: HeartbeatLoopDeps;
  #token: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(deps: HeartbeatLoopDeps) {
    this.#d = deps;
  }

  /** The bearer token from registration, once registered. */
  get token(): string | undefined {
    return this.#token;
  }

  get registered(): boolean {
    return this.#token !== undefined;
  }

  async start(): Promise<void> {
    this.#running = true;
    await this.#tick();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** Beats now (e.g. to announce a drain), then keeps the usual rhythm. */
  async beatNow(): Promise<void> {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    await this.#tick();
  }

  async #register(): Promise<void> {
    const reg = await signNodeRegistration(this.#d.account, {
      ...this.#d.registration(),
      issuedAt: Date.now(),
    });
    const res = await this.#d.client.registerNode(reg);
    this.#token = res.token;
    this.#d.log.info("registered with coordinator", {
      nodeId: res.nodeId,
      coordinator: this.#d.client.baseUrl,
    });
  }

  /** One beat now; the next is scheduled whatever happens. */
  async #tick(): Promise<void> {
    try {
      if (!this.#token) await this.#register();
      const reply = await this.#d.client.heartbeat(this.#token as string, this.#d.snapshot());
      this.#d.onCarry(reply.carry, reply.edges);
    } catch (err) {
      if (isSrpError(err, "UNAUTHORIZED") || isSrpError(err, "NODE_NOT_FOUND")) this.#token = undefined;
      this.#d.log.warn("heartbeat failed", { err });
    } finally {
      clearTimeout(this.#timer); // a beatNow() during this tick must not start a second rhythm
      if (this.#running) this.#timer = setTimeout(() => void this.#tick(), this.#d.intervalMs);
    }
  }
}
