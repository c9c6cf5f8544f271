import type { CoordinatorStore, StreamRow } from "./store.ts";

/**
 * The stream registry as heartbeat replies read it: every heartbeat asks which
 * streams to carry, and at 10,000 nodes that must not be a query each. Read at
 * most once per `maxAgeMs` (other replicas' new streams and ingest changes show
 * up within that), at once after a change made here.
 */
export class StreamListCache {
  #rows: StreamRow[] | undefined;
  #byId = new Map<string, StreamRow>();
  #readAt = 0;
  #pending: Promise<StreamRow[]> | undefined;

  constructor(
    private readonly store: CoordinatorStore,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {}

  async list(): Promise<StreamRow[]> {
    if (this.#rows && this.now() - this.#readAt < this.maxAgeMs) return this.#rows;
    // One read however many heartbeats arrive while it runs.
    this.#pending ??= this.store.listStreams().then(
      (rows) => {
        this.#rows = rows;
        this.#byId = new Map(rows.map((r) => [r.streamId, r]));
        this.#readAt = this.now();
        this.#pending = undefined;
        return rows;
      },
      (err: unknown) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }

  /**
   * One stream, as every viewer request asks: from the list (no query per request), else
   * from the database (registered at another replica within the last `maxAgeMs`).
   */
  async get(streamId: string): Promise<StreamRow | undefined> {
    await this.list();
    return this.#byId.get(streamId) ?? (await this.store.getStream(streamId));
  }

  invalidate(): void {
    this.#rows = undefined;
  }
}
