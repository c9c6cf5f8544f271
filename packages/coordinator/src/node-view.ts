import type { Logger } from "@streamrp2p/service";
import type { UptimeTracker } from "./accounting/uptime.ts";
import type { CoordinatorStore, HeartbeatUpdate, NodeRow, NodeSnapshot } from "./store.ts";

/**
 * Another replica's write may commit after one already read yet carry an earlier time
 * (`changed_at` is the database's clock when the statement ran, and a batch takes a
 * while): each refresh reads again from this far back. Rows read twice are merged, so
 * this costs only reads.
 */
export const REFRESH_OVERLAP_MS = 3_000;

/** Rows of the node registry, what it reports, and what a replica has not yet written. */
export interface NodeViewOptions {
  /** Heartbeat state is written in one batch this often (ms). */
  flushIntervalMs: number;
  /** Other replicas' writes are read this often (ms). */
  refreshIntervalMs: number;
  /** After each batch written: rows, statements and how long it took (ms), for metrics. */
  onFlush?: (rows: number, statements: number, ms: number) => void;
}

/**
 * This replica's view of the node registry, in memory. Heartbeats update it and
 * are written to the database in batches (a few statements per flush, not one
 * write per heartbeat); registrations are written at once. Other replicas'
 * writes arrive by reading the rows changed since the last look. Routing and
 * authentication read only memory.
 *
 * Merge rule for a row known here and read from the database: registry fields
 * (URL, token, streams, capacity) from whichever registration was signed later;
 * reported fields (load, edges, draining) from whichever heartbeat is newer.
 */
export class NodeView {
  readonly #nodes = new Map<string, NodeRow>();
  readonly #dirty = new Set<string>();
  readonly #listeners: ((node: NodeRow) => void)[] = [];
  #list: NodeRow[] | undefined;
  #cursor = 0;
  #timers: NodeJS.Timeout[] = [];
  #flushing: Promise<void> | undefined;
  #onFlush: NodeViewOptions["onFlush"];

  constructor(
    private readonly store: CoordinatorStore,
    readonly uptime: UptimeTracker,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Called with every row that changes here, from any replica (routing indexes follow it). */
  onChange(listener: (node: NodeRow) => void): void {
    this.#listeners.push(listener);
    for (const n of this.#nodes.values()) listener(n);
  }

  async load(): Promise<void> {
    this.#absorb(await this.store.listNodeSnapshots());
  }

  start(options: NodeViewOptions): void {
    const every = (ms: number, name: string, task: () => Promise<unknown>) => {
      let busy = false;
      this.#timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          task()
            .catch((err: unknown) => this.log.warn(`node view ${name} failed`, { err }))
            .finally(() => {
              busy = false;
            });
        }, ms),
      );
    };
    this.#onFlush = options.onFlush;
    every(options.flushIntervalMs, "flush", () => this.flush());
    every(options.refreshIntervalMs, "refresh", () => this.refresh());
  }

  /** Stops the timers and writes what is pending. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.flush();
  }

  get size(): number {
    return this.#nodes.size;
  }

  get(nodeId: string): NodeRow | undefined {
    return this.#nodes.get(nodeId);
  }

  /** From memory, else from the database (registered on another replica since the last refresh). */
  async fetch(nodeId: string): Promise<NodeRow | undefined> {
    const known = this.#nodes.get(nodeId);
    if (known) return known;
    const row = await this.store.getNode(nodeId);
    if (row) this.#set(row);
    return row;
  }

  /** Every node by id (live: changes as the view does). */
  byId(): ReadonlyMap<string, NodeRow> {
    return this.#nodes;
  }

  /** Every node, ordered by id; the same array until something changes. */
  list(): NodeRow[] {
    this.#list ??= [...this.#nodes.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    return this.#list;
  }

  /** False when a registration signed at or after this one is in force (written by any replica). */
  async register(row: NodeRow): Promise<boolean> {
    if (!(await this.store.upsertNode(row))) return false;
    this.#set(row);
    return true;
  }

  heartbeat(nodeId: string, update: HeartbeatUpdate): NodeRow | undefined {
    const node = this.#nodes.get(nodeId);
    if (!node) return undefined;
    const next: NodeRow = { ...node, ...update };
    this.uptime.heartbeat(nodeId, update.lastHeartbeatAt);
    this.#set(next);
    this.#dirty.add(nodeId);
    return next;
  }

  /** Writes the heartbeat state of every node heard since the last flush, in batches. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const ids = [...this.#dirty];
    this.#dirty.clear();
    const writes = ids.flatMap((id) => {
      const node = this.#nodes.get(id);
      const uptime = this.uptime.state(id);
      return node && uptime ? [{ node, uptime }] : [];
    });
    const started = performance.now();
    try {
      const statements = await this.store.recordHeartbeats(writes);
      this.#onFlush?.(writes.length, statements, performance.now() - started);
    } catch (batchErr) {
      // One bad row must not keep every node's heartbeats out of the database: write them one
      // by one. A row the database refuses is dropped (the node's next heartbeat is written
      // afresh); if every row fails, the database is down: keep them all for the next flush.
      let failed = 0;
      for (const w of writes) {
        try {
          await this.store.recordHeartbeats([w]);
        } catch (err) {
          failed++;
          if (failed === writes.length) {
            for (const id of ids) this.#dirty.add(id);
            throw batchErr;
          }
          this.log.warn("heartbeat row refused by the database: dropped", { nodeId: w.node.nodeId, err });
        }
      }
      this.#onFlush?.(writes.length - failed, writes.length, performance.now() - started);
    }
  }

  /** Reads what other replicas wrote since the last look. */
  async refresh(): Promise<void> {
    this.#absorb(await this.store.nodesChangedSince(Math.max(0, this.#cursor - REFRESH_OVERLAP_MS)));
  }

  #absorb(rows: NodeSnapshot[]): void {
    for (const { node: remote, uptime, changedAt } of rows) {
      this.#cursor = Math.max(this.#cursor, changedAt);
      this.uptime.load(remote.nodeId, uptime);
      const local = this.#nodes.get(remote.nodeId);
      if (!local) {
        this.#set(remote);
        continue;
      }
      // Ties go to the database: it holds the registration that won there.
      const registry = remote.registeredAt >= local.registeredAt ? remote : local;
      const reported = remote.lastHeartbeatAt > local.lastHeartbeatAt ? remote : local;
      if (registry === local && reported === local) continue;
      if (registry === remote && reported === remote) {
        this.#set(remote);
        continue;
      }
      this.#set({
        ...registry,
        lastHeartbeatAt: reported.lastHeartbeatAt,
        connections: reported.connections,
        egressBps: reported.egressBps,
        bytesServed: reported.bytesServed,
        load: reported.load,
        draining: reported.draining,
      });
    }
  }

  #set(row: NodeRow): void {
    this.#nodes.set(row.nodeId, row);
    this.#list = undefined;
    for (const l of this.#listeners) l(row);
  }
}
