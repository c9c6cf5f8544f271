/** Decayed ms heard from (`up`) and silent (`down`) as of the heartbeat at `last` (ms). */
export interface UptimeState {
  up: number;
  down: number;
  last: number;
}

/**
 * Uptime from heartbeats: time heard from vs. time silent, both decaying
 * with the same half-life as probe weights, so a node recovers from an outage.
 */
export class UptimeTracker {
  readonly #nodes = new Map<string, UptimeState>();

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

  /** What this tracker knows of a node, to share with other replicas through the database. */
  state(nodeId: string): UptimeState | undefined {
    const n = this.#nodes.get(nodeId);
    return n && { ...n };
  }

  /**
   * Takes another replica's state for a node when it has heard the node more
   * recently: heartbeats of one node go to whichever replica answers, so the
   * newest state is the node's history.
   */
  load(nodeId: string, state: UptimeState): void {
    if (state.last <= 0) return; // never heard
    const mine = this.#nodes.get(nodeId);
    if (!mine || state.last > mine.last) this.#nodes.set(nodeId, { ...state });
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
