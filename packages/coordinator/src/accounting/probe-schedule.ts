/**
 * Which nodes the built-in prober probes, and when. The rate follows the
 * network's size: every node carrying a stream is probed about once per
 * `probeEachNodeMs`, within a global budget of `maxProbesPerSecond`, and never
 * less than once per `probeIntervalMs`. One probe every 30 s, whatever the
 * size, probed a node among 10,000 about once in three days: reputation then
 * rested on uptime alone, and a node serving viewers badly kept its share.
 *
 * The least recently probed nodes go first, so every node is covered within
 * about (nodes / rate); the next one is drawn at random among the PICK_AMONG
 * oldest, so a node cannot tell from the order when its probe comes.
 */

export interface ProbeScheduleOptions {
  /** At least one probe this often; 0 turns the built-in prober off. */
  probeIntervalMs: number; // ms
  /** Each node carrying a stream is probed about this often, however many nodes there are… */
  probeEachNodeMs: number; // ms
  /** …within this budget for the whole network. */
  maxProbesPerSecond: number; // probes/s
  /**
   * Time between two calls counted at most this long (default 1 s, the prober's tick): a
   * prober that was frozen or lost the lease does not catch up in a burst.
   */
  maxCatchUpMs?: number; // ms
}

/** The next probe is drawn among this many least recently probed nodes. */
export const PICK_AMONG = 8;

export class ProbeSchedule {
  /** node id → when it was last picked (ms); only nodes offered at the last call are kept. */
  #last = new Map<string, number>();
  /** Probes owed and not yet started (a fraction carries over between calls). */
  #credit = 0;
  #at: number | undefined;

  constructor(
    private readonly o: ProbeScheduleOptions,
    private readonly random: () => number,
  ) {}

  /** Probes per ms for a network of `nodes` probe-able nodes. */
  rate(nodes: number): number {
    if (this.o.probeIntervalMs <= 0) return 0;
    const floor = 1 / this.o.probeIntervalMs;
    const wanted = this.o.probeEachNodeMs > 0 ? nodes / this.o.probeEachNodeMs : 0;
    return Math.min(Math.max(floor, wanted), Math.max(floor, this.o.maxProbesPerSecond / 1000));
  }

  /** Nodes remembered (those offered at the last draw). */
  get size(): number {
    return this.#last.size;
  }

  /**
   * The nodes to probe now, from those that can be probed (each carrying a stream). Owed
   * probes accumulate with the time since the last call, counting at most `maxCatchUpMs` (or
   * one probe's interval).
   */
  due<T extends { nodeId: string }>(now: number, candidates: readonly T[]): T[] {
    const rate = this.rate(candidates.length);
    const elapsed = this.#at === undefined ? 0 : Math.max(0, now - this.#at);
    this.#at = now;
    if (rate <= 0) return [];
    this.#credit += rate * Math.min(elapsed, Math.max(this.o.maxCatchUpMs ?? 1_000, 1 / rate));
    // The epsilon: thirty additions of 1/30 must make one probe, not 0.999…
    const count = Math.min(Math.floor(this.#credit + 1e-9), candidates.length);
    if (count <= 0) return [];
    this.#credit = Math.max(0, this.#credit - count);
    // Bounded state: only nodes that can be probed now are remembered.
    const last = new Map<string, number>();
    for (const c of candidates) last.set(c.nodeId, this.#last.get(c.nodeId) ?? Number.NEGATIVE_INFINITY);
    this.#last = last;
    // One pass finds the oldest the draws can reach; each draw takes one of the PICK_AMONG
    // oldest left (a drawn node is the newest now, so it leaves the window).
    const window = this.#oldest(candidates, count + PICK_AMONG - 1);
    const out: T[] = [];
    for (let i = 0; i < count && window.length > 0; i++) {
      const j = Math.floor(this.random() * Math.min(PICK_AMONG, window.length));
      const [picked] = window.splice(j, 1) as [T];
      out.push(picked);
      last.set(picked.nodeId, now);
    }
    return out;
  }

  /**
   * The `k` least recently picked candidates, in one pass (no sort of every node per probe).
   * The pass starts at a random place, so among equals (never probed) who comes first varies.
   */
  #oldest<T extends { nodeId: string }>(candidates: readonly T[], k: number): T[] {
    const best: Array<{ c: T; at: number }> = [];
    const n = candidates.length;
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const c = candidates[(start + i) % n] as T;
      const at = this.#last.get(c.nodeId) ?? Number.NEGATIVE_INFINITY;
      if (best.length === k && at >= (best[k - 1] as { at: number }).at) continue;
      let j = best.length === k ? k - 1 : best.length;
      if (best.length === k) best.pop();
      while (j > 0 && (best[j - 1] as { at: number }).at > at) j--;
      best.splice(j, 0, { c, at });
    }
    return best.map((b) => b.c);
  }
}
