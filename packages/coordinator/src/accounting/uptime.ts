/**
 * Uptime from heartbeats: time heard from vs. time silent, both decaying
 * with the same half-life as probe weights, so a node recovers from an outage.
 */
export class UptimeTracker {
  readonly #nodes = new Map<string, { up: number; down: number; last: number }>();

  constructor(
    private readonly nodeTimeoutMs: number,
    private readonly halfLifeMs: number,
  ) {}

  heartbeat(nodeId: string, at: number): void {
    const n = this.#nodes.get(nodeId);
    if (!n) {
      this.#nodes.set(nodeId, { up: 0, down: 0, last: at });
      return;
    }
    const gap = Math.max(0, at - n.last);
    const decay = 0.5 ** (gap / this.halfLifeMs);
    const { up, down } = this.#split(gap);
    n.up = n.up * decay + up;
    n.down = n.down * decay + down;
    n.last = at;
  }

  #split(gap: number): { up: number; down: number } {
    return gap <= this.nodeTimeoutMs
      ? { up: gap, down: 0 }
      : { up: this.nodeTimeoutMs, down: gap - this.nodeTimeoutMs };
  }

  /** Share of recent time the node was heard from; 1 for a node never seen down. */
  uptime(nodeId: string, now: number): number {
    const n = this.#nodes.get(nodeId);
    if (!n) return 0;
    const pending = this.#split(Math.max(0, now - n.last));
    const up = n.up + pending.up;
    const down = n.down + pending.down;
    return up + down === 0 ? 1 : up / (up + down);
  }
}
