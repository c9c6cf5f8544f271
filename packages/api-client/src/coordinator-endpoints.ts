import { isSrpError, SrpError } from "@streamrp2p/protocol";

/**
 * Failover between coordinator replicas, shared by Node parties (through
 * CoordinatorClient) and the browser player: this file imports nothing that
 * needs Node, so the player bundles it as is.
 */
export const FAILOVER_DEFAULTS = {
  /** A replica that failed is tried last for this long after its first failure… */
  backoffMs: 2_000, // ms
  /** …doubling with each further failure, up to this. */
  maxBackoffMs: 30_000, // ms
} as const;

/** A list of coordinator URLs parsed from "a,b" or a list: trimmed, no trailing slash, no duplicates. */
export function coordinatorUrlList(urls: string | readonly string[]): string[] {
  const list = (typeof urls === "string" ? urls.split(",") : urls)
    .map((u) => u.trim().replace(/\/+$/, ""))
    .filter((u) => u !== "");
  if (list.length === 0) throw new SrpError("BAD_REQUEST", "no coordinator URL given");
  return [...new Set(list)];
}

export interface CoordinatorEndpointsOptions {
  /** ms since the epoch; injected so tests control the backoff. */
  now?: () => number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Health {
  failures: number;
  /** Until then the URL is tried only after every healthy one. */
  retryAt: number;
}

/**
 * Which coordinator replica to try, in what order: the one that answered
 * last first, then the others in the configured order, and replicas that
 * failed recently last (soonest retry first). A failed replica is never
 * dropped: it is tried again once its backoff is over, or earlier when every
 * other one fails too.
 */
export class CoordinatorEndpoints {
  readonly urls: readonly string[];
  readonly #now: () => number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #health = new Map<string, Health>();
  #preferred: string;

  constructor(urls: string | readonly string[], options: CoordinatorEndpointsOptions = {}) {
    this.urls = coordinatorUrlList(urls);
    this.#preferred = this.urls[0] as string;
    this.#now = options.now ?? Date.now;
    this.#backoffMs = options.backoffMs ?? FAILOVER_DEFAULTS.backoffMs;
    this.#maxBackoffMs = options.maxBackoffMs ?? FAILOVER_DEFAULTS.maxBackoffMs;
  }

  /** The replica that answered last (the first configured one before any call). */
  get preferred(): string {
    return this.#preferred;
  }

  /** Every URL once, in the order one call should try them. */
  order(): string[] {
    const now = this.#now();
    const byPreference = [this.#preferred, ...this.urls.filter((u) => u !== this.#preferred)];
    const backingOff = (u: string) => (this.#health.get(u)?.retryAt ?? 0) > now;
    const ready = byPreference.filter((u) => !backingOff(u));
    const waiting = byPreference
      .filter(backingOff)
      .sort((a, b) => (this.#health.get(a)?.retryAt ?? 0) - (this.#health.get(b)?.retryAt ?? 0));
    return [...ready, ...waiting];
  }

  /** `url` answered (any answer, an error body included): it is the one to try first. */
  succeeded(url: string): void {
    this.#health.delete(url);
    this.#preferred = url;
  }

  /** `url` did not answer, or answered as a replica that cannot serve. */
  failed(url: string): void {
    const failures = (this.#health.get(url)?.failures ?? 0) + 1;
    const backoff = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** Math.min(failures - 1, 30));
    this.#health.set(url, { failures, retryAt: this.#now() + backoff });
  }

  /** ms until `url` is tried in its configured place again; 0 when it is not backing off. */
  backoffLeft(url: string): number {
    return Math.max(0, (this.#health.get(url)?.retryAt ?? 0) - this.#now());
  }
}

/** HTTP statuses that say "this replica cannot serve now" (a proxy without a backend, an overloaded or stopping server). */
const REPLICA_DOWN_STATUSES = new Set([502, 503, 504]);

/**
 * Whether `err` (from requestJson) means the replica, not the request, is the
 * problem: no answer at all (refused, reset, timed out) or 502/503/504. Every
 * 4xx is an answer and is not retried elsewhere, and so is NO_UPSTREAM: a
 * coordinator saying it has no relay to offer, which any replica would repeat.
 */
export function isReplicaFailure(err: unknown): boolean {
  if (!isSrpError(err)) return false;
  const status = err.details?.status;
  if (typeof status !== "number") return err.code === "UNAVAILABLE" || err.code === "TIMEOUT";
  return REPLICA_DOWN_STATUSES.has(status) && err.code !== "NO_UPSTREAM";
}

/**
 * Runs `attempt` against each replica in `endpoints.order()` until one
 * answers. A replica failure (see isReplicaFailure) moves to the next and
 * starts that replica's backoff; any other outcome, success or error, is the
 * answer. When every replica failed, the last failure is thrown.
 */
export async function withFailover<T>(
  endpoints: CoordinatorEndpoints,
  attempt: (baseUrl: string) => Promise<T>,
  onFailover?: (failed: string, err: unknown) => void,
): Promise<T> {
  let last: unknown;
  for (const url of endpoints.order()) {
    try {
      const value = await attempt(url);
      endpoints.succeeded(url);
      return value;
    } catch (err) {
      if (!isReplicaFailure(err)) {
        endpoints.succeeded(url); // it answered: the request, not the replica, was refused
        throw err;
      }
      endpoints.failed(url);
      onFailover?.(url, err);
      last = err;
    }
  }
  throw last;
}
