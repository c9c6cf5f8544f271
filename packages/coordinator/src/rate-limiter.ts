/** Buckets kept at most; past this the least recently used are forgotten (memory stays bounded). */
const MAX_BUCKETS = 100_000;

/**
 * Token buckets per key (a client address or subnet, a session): tickets and
 * reports cost something, so one client cannot mint an army of fake
 * viewers. In memory per coordinator replica, bounded by `maxKeys`; a shared
 * store can take its place behind this class.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly capacity: number,
    private readonly refillPerMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = MAX_BUCKETS,
  ) {}

  /** Takes one token; false when the bucket is empty. */
  take(key: string): boolean {
    const t = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.refillPerMs);
    b.at = t;
    // Re-inserted so the Map's order is least recently used first.
    this.#buckets.delete(key);
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.maxKeys) this.#shrink(t);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Forgets full buckets first (they hold nothing); if keys are still over
   * the bound, the least recently used go. Forgetting a drained bucket gives
   * that key a fresh one: the wider per-subnet bucket still holds it back.
   */
  #shrink(t: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (t - b.at) * this.refillPerMs >= this.capacity) this.#buckets.delete(k);
    }
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size <= this.maxKeys * 0.9) break;
      this.#buckets.delete(k);
    }
  }
}
