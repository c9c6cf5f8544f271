/** A relay the player may fetch from. */
export interface PoolNode {
  nodeId: string;
  url: string;
  /** The coordinator's rank score; higher is better. */
  score: number;
}

export type FailureKind = "network" | "timeout" | "http" | "tampered" | "unverifiable" | "stale";

/**
 * The player's view of the relays it may use: the coordinator's ranking, the
 * node currently serving (sticky, so receipts go to one node at a time), and
 * penalties that decay rather than ban for ever.
 */
export class NodePool {
  #nodes: PoolNode[] = [];
  #current: string | undefined;
  readonly #penalties = new Map<string, { until: number; kind: FailureKind }>();
  readonly #now: () => number;

  constructor(nodes: PoolNode[], now: () => number = Date.now) {
    this.#now = now;
    this.replace(nodes);
  }

  /** New ranking from the coordinator; penalties and the current node are kept. */
  replace(nodes: PoolNode[]): void {
    this.#nodes = [...nodes].sort((a, b) => b.score - a.score);
  }

  get current(): PoolNode | undefined {
    return this.#nodes.find((n) => n.nodeId === this.#current);
  }

  get size(): number {
    return this.#nodes.length;
  }

  isPenalized(nodeId: string): boolean {
    const p = this.#penalties.get(nodeId);
    return p !== undefined && p.until > this.#now();
  }

  /**
   * Nodes to try for one request, in order: the current node unless
   * penalized, then the others by rank, then penalized nodes (soonest
   * forgiven first) — so a request is never refused while any node exists.
   */
  order(): PoolNode[] {
    const fresh = this.#nodes.filter((n) => !this.isPenalized(n.nodeId));
    const current = fresh.find((n) => n.nodeId === this.#current);
    const rest = fresh.filter((n) => n !== current);
    const penalized = this.#nodes
      .filter((n) => this.isPenalized(n.nodeId))
      .sort(
        (a, b) => (this.#penalties.get(a.nodeId)?.until ?? 0) - (this.#penalties.get(b.nodeId)?.until ?? 0),
      );
    return [...(current ? [current] : []), ...rest, ...penalized];
  }

  /** Records a failure; a tampering node is penalized three times as long. */
  penalize(nodeId: string, kind: FailureKind, penaltyMs: number): void {
    const ms = kind === "tampered" ? penaltyMs * 3 : penaltyMs;
    // `current` stays: order() skips it while penalized, and the next success reports the switch.
    this.#penalties.set(nodeId, { until: this.#now() + ms, kind });
  }

  /**
   * Marks the node that just served a request; returns true when that is a
   * switch. A node caught tampering stays penalized and is not made current
   * by a success: with LL-HLS a blocking reload started on it before the lie
   * was seen answers after it, and must not bring the liar back.
   */
  served(nodeId: string): boolean {
    const p = this.#penalties.get(nodeId);
    if (p?.kind === "tampered" && p.until > this.#now()) return false;
    const switched = this.#current !== undefined && this.#current !== nodeId;
    this.#current = nodeId;
    this.#penalties.delete(nodeId);
    return switched;
  }
}
