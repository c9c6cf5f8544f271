/** Bytes this relay served per viewer session (`?session=` on media requests). */
export interface SessionTally {
  streamId: string;
  bytes: number;
  segments: number;
  lastSeenAt: number;
}

const MAX_SESSIONS = 100_000;
const IDLE_MS = 10 * 60_000; // ms before an idle session is forgotten

export class SessionLedger {
  readonly #tallies = new Map<string, SessionTally>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts `bytes` (and `segments` media segments) served to a session. */
  add(sessionId: string, streamId: string, bytes: number, segments: number): void {
    let t = this.#tallies.get(sessionId);
    if (!t) {
      if (this.#tallies.size >= MAX_SESSIONS) this.#evictIdle();
      t = { streamId, bytes: 0, segments: 0, lastSeenAt: 0 };
      this.#tallies.set(sessionId, t);
    }
    t.bytes += bytes;
    t.segments += segments;
    t.lastSeenAt = this.now();
  }

  get(sessionId: string): SessionTally | undefined {
    return this.#tallies.get(sessionId);
  }

  get size(): number {
    return this.#tallies.size;
  }

  /** Viewers of a stream seen in the last `withinMs`. */
  activeViewers(streamId: string, withinMs: number): number {
    const since = this.now() - withinMs;
    let n = 0;
    for (const t of this.#tallies.values()) if (t.streamId === streamId && t.lastSeenAt >= since) n += 1;
    return n;
  }

  #evictIdle(): void {
    const cutoff = this.now() - IDLE_MS;
    for (const [id, t] of this.#tallies) if (t.lastSeenAt < cutoff) this.#tallies.delete(id);
    if (this.#tallies.size >= MAX_SESSIONS) {
      const oldest = this.#tallies.keys().next().value;
      if (oldest !== undefined) this.#tallies.delete(oldest);
    }
  }
}
