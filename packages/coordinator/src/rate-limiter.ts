/**
 * Token buckets per key (client address + stream): tickets cost something,
 * so one client cannot mint an army of fake viewers. In memory per
 * coordinator replica; a shared store can take its place behind this class.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly capacity: number,
    private readonly refillPerMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; false when the bucket is empty. */
  take(key: string): boolean {
    const t = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.refillPerMs);
    b.at = t;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 100_000) this.#sweep(t);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #sweep(t: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (t - b.at) * this.refillPerMs >= this.capacity) this.#buckets.delete(k);
    }
  }
}
