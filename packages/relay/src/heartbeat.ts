import type { CoordinatorClient } from "@streamrp2p/api-client";
import {
  type Heartbeat,
  isSrpError,
  type NodeRegistered,
  type StreamEdge,
  signNodeRegistration,
} from "@streamrp2p/protocol";
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
  /** issuedAt of the last registration signed (ms). */
  #lastIssuedAt = 0;

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

  /** Signs a registration later than any this loop signed (the coordinator refuses one not later than the one in force). */
  async #signRegistration() {
    const issuedAt = Math.max(Date.now(), this.#lastIssuedAt + 1);
    this.#lastIssuedAt = issuedAt;
    return signNodeRegistration(this.#d.account, { ...this.#d.registration(), issuedAt });
  }

  /**
   * Registers and keeps the token. CONFLICT means a registration signed at
   * or after this one is in force: this very one, taken by a replica that
   * then failed to answer (CoordinatorClient retried it on another), or one
   * from a clock running ahead. A freshly signed one is tried once.
   */
  async #register(): Promise<void> {
    let res: NodeRegistered;
    try {
      res = await this.#d.client.registerNode(await this.#signRegistration());
    } catch (err) {
      if (!isSrpError(err, "CONFLICT")) throw err;
      res = await this.#d.client.registerNode(await this.#signRegistration());
    }
    this.#token = res.token;
    this.#d.log.info("registered with coordinator", {
      nodeId: res.nodeId,
      coordinator: this.#d.client.baseUrl,
    });
  }

  async #beat(): Promise<void> {
    const reply = await this.#d.client.heartbeat(this.#token as string, this.#d.snapshot());
    this.#d.onCarry(reply.carry, reply.edges);
  }

  /**
   * One beat now; the next is scheduled whatever happens. A coordinator that
   * does not know the token (it forgot the node, or a replica on another
   * database answered) gets a new registration and the beat at once, not a
   * beat later: the node is not routed to while it is unknown.
   */
  async #tick(): Promise<void> {
    try {
      if (!this.#token) await this.#register();
      try {
        await this.#beat();
      } catch (err) {
        if (!isSrpError(err, "UNAUTHORIZED") && !isSrpError(err, "NODE_NOT_FOUND")) throw err;
        this.#token = undefined;
        this.#d.log.warn("coordinator does not know this node's token; registering again", { err });
        await this.#register();
        await this.#beat();
      }
    } catch (err) {
      if (isSrpError(err, "UNAUTHORIZED") || isSrpError(err, "NODE_NOT_FOUND")) this.#token = undefined;
      this.#d.log.warn("heartbeat failed", { err });
    } finally {
      clearTimeout(this.#timer); // a beatNow() during this tick must not start a second rhythm
      if (this.#running) this.#timer = setTimeout(() => void this.#tick(), this.#d.intervalMs);
    }
  }
}
