import type { ServeMetrics } from "../serve.ts";
import type { WorkerStats } from "./messages.ts";

/** Sessions a tally holds before it asks to be flushed early: bounds a worker's memory between reports. */
const MAX_TALLIED_SESSIONS = 10_000;

/**
 * What a worker served since its last report: request and byte counts for
 * its primary's metrics, bytes per viewer session for its primary's ledger.
 * Each byte is counted once, in the worker that sent it; the primary adds.
 */
/** Distinct streams one report names as asked for (~10 reports a second per worker). */
const MAX_ASKED = 64;

export class WorkerTally implements ServeMetrics {
  readonly #requests = new Map<string, number>();
  readonly #bytes = new Map<string, number>();
  readonly #sessions = new Map<string, [string, number, number]>();
  readonly #asked = new Set<string>();
  /** Unused in a worker (the primary keeps the totals); here for ServeMetrics. */
  readonly totals = { bytesServed: 0 };

  constructor(private readonly onFull: () => void) {}

  readonly requests = {
    inc: (labels: { kind: string; status: string }, value = 1): void => {
      const key = `${labels.kind}\n${labels.status}`;
      this.#requests.set(key, (this.#requests.get(key) ?? 0) + value);
    },
  };

  readonly bytesServed = {
    inc: (labels: { kind: string }, value = 1): void => {
      this.#bytes.set(labels.kind, (this.#bytes.get(labels.kind) ?? 0) + value);
    },
  };

  readonly ledger = {
    add: (sessionId: string, streamId: string, bytes: number, segments: number): void => {
      const t = this.#sessions.get(sessionId);
      if (t) {
        t[1] += bytes;
        t[2] += segments;
        return;
      }
      this.#sessions.set(sessionId, [streamId, bytes, segments]);
      if (this.#sessions.size >= MAX_TALLIED_SESSIONS) this.onFull();
    },
  };

  get empty(): boolean {
    return (
      this.#requests.size === 0 &&
      this.#bytes.size === 0 &&
      this.#sessions.size === 0 &&
      this.#asked.size === 0
    );
  }

  /** The counts since the last call, and a fresh start. */
  /** A request for this stream's media (bounded: a report names at most MAX_ASKED streams). */
  ask(streamId: string): void {
    if (this.#asked.size < MAX_ASKED) this.#asked.add(streamId);
  }

  take(connections: number): WorkerStats {
    const stats: WorkerStats = {
      connections,
      requests: [...this.#requests].map(([key, n]) => {
        const [kind = "", status = ""] = key.split("\n");
        return [kind, status, n];
      }),
      bytes: [...this.#bytes],
      sessions: [...this.#sessions].map(([id, [stream, bytes, segments]]) => [id, stream, bytes, segments]),
      asked: [...this.#asked],
    };
    this.#requests.clear();
    this.#bytes.clear();
    this.#sessions.clear();
    this.#asked.clear();
    return stats;
  }
}
