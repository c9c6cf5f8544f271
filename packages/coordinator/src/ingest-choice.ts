import type { Logger } from "@streamrp2p/service";
import type { IngestExclusions } from "./ingest-exclusions.ts";
import { chooseIngest, isHealthy, loadRatio } from "./routing.ts";
import type { CoordinatorStore, NodeRow, StreamRow } from "./store.ts";

export interface IngestChoiceDeps {
  store: CoordinatorStore;
  /** This replica's view of the nodes. */
  nodes: () => NodeRow[];
  exclusions: IngestExclusions;
  now: () => number;
  log: Logger;
  /** Called after a stream's ingest relays were written (caches of the stream list drop it). */
  onChange: () => void;
}

export interface IngestChoiceOptions {
  nodeTimeoutMs: number; // ms
  perStream: number;
  /** How often every stream's choice is checked against the clock. */
  sweepMs: number; // ms
}

/**
 * Chooses each stream's ingest relays and writes the choice, on the writes
 * that change its inputs — a stream registered, a node registered, a
 * heartbeat that makes a node usable or not, an origin's ingest-failure
 * report — and on a sweep for what only time changes (a node falling silent,
 * an exclusion running out). Readers (GET /v1/streams…) read the stored
 * choice and never choose: a GET changes nothing.
 */
export class IngestChoice {
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The sweep running now, and one queued behind it that later callers share. */
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(
    private readonly d: IngestChoiceDeps,
    private readonly o: IngestChoiceOptions,
  ) {}

  /** Whether ingest choice may pick this node now (its ingest flag, heard from recently, not draining). */
  usable(node: NodeRow | undefined): boolean {
    return !!node?.ingest && isHealthy(node, this.d.now(), this.o.nodeTimeoutMs);
  }

  /** Chooses for one stream and writes the choice when it changed; returns the row as stored. */
  async refresh(stream: StreamRow, nodes: NodeRow[] = this.d.nodes()): Promise<StreamRow> {
    const ingest = chooseIngest(
      stream,
      nodes,
      this.d.now(),
      this.o.nodeTimeoutMs,
      this.o.perStream,
      this.d.exclusions.of(stream.streamId),
    );
    if (ingest.join() === stream.ingest.join()) return stream;
    await this.d.store.setIngest(stream.streamId, ingest);
    this.d.onChange();
    this.d.log.info("ingest relays chosen", { streamId: stream.streamId, ingest });
    return { ...stream, ingest };
  }

  /**
   * Every stream. A sweep that started before the caller's change may have
   * missed it, so a call during one queues the next (shared by all who ask
   * meanwhile) rather than joining it.
   */
  refreshAll(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued: Promise<void> = (this.#running ?? Promise.resolve()).then(async () => {
      this.#queued = undefined;
      this.#running = queued;
      try {
        await this.#sweep();
      } finally {
        if (this.#running === queued) this.#running = undefined;
      }
    });
    this.#queued = queued;
    return queued;
  }

  /** After a heartbeat: re-choose only when it changed whether the node is usable (rare, so cheap). */
  async afterHeartbeat(before: NodeRow | undefined, after: NodeRow | undefined): Promise<void> {
    if (this.usable(before) !== this.usable(after)) await this.refreshAll();
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.refreshAll().catch((err: unknown) => this.d.log.warn("ingest sweep failed", { err }));
    }, this.o.sweepMs);
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await (this.#queued ?? this.#running)?.catch(() => {});
  }

  async #sweep(): Promise<void> {
    // Only usable nodes can be chosen: filter the view once, not once per stream.
    // Sorted as chooseIngest ranks them (least loaded, then id): its sort of each stream's
    // candidates is then a linear pass, not n log n per stream.
    const usable = this.d
      .nodes()
      .filter((n) => this.usable(n))
      .sort((a, b) => loadRatio(a) - loadRatio(b) || a.nodeId.localeCompare(b.nodeId));
    const usableIds = new Set(usable.map((n) => n.nodeId));
    for (const stream of await this.d.store.listStreams()) {
      // chooseIngest keeps a full set of usable, unexcluded ingest relays as it is: nothing
      // to choose for such a stream (most of them, most of the time), so no scan of the nodes.
      const excluded = this.d.exclusions.of(stream.streamId);
      const settled =
        stream.ingest.length >= this.o.perStream &&
        stream.ingest.every((id) => usableIds.has(id) && !excluded.has(id));
      if (!settled) await this.refresh(stream, usable);
    }
  }
}
