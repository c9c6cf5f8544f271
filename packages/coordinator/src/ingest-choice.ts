import type { Logger } from "@streamrp2p/service";
import type { IngestExclusions } from "./ingest-exclusions.ts";
import { chooseIngest, ingestCounts, isHealthy } from "./routing.ts";
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
  /**
   * Streams each node is ingest for, as this replica chose or last read them: recounted from
   * the store on every sweep (other replicas' choices), moved on at once by every choice here,
   * so streams registered in the same second see each other's choices.
   */
  #ingestStreams = new Map<string, number>();

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
      this.#ingestStreams,
    );
    if (ingest.join() === stream.ingest.join()) return stream;
    // Counted before the write is awaited: a choice made meanwhile for another stream sees it.
    const counts = this.#ingestStreams;
    for (const id of stream.ingest) counts.set(id, Math.max(0, (counts.get(id) ?? 0) - 1));
    for (const id of ingest) counts.set(id, (counts.get(id) ?? 0) + 1);
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
    const usable = this.d.nodes().filter((n) => this.usable(n));
    const usableIds = new Set(usable.map((n) => n.nodeId));
    const streams = await this.d.store.listStreams();
    this.#ingestStreams = ingestCounts(streams);
    for (const stream of streams) {
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
