/** Streams remembered at most; past it the stream reported longest ago is forgotten first. */
const MAX_STREAMS = 10_000;
/** Relays remembered per stream at most. */
const MAX_PER_STREAM = 64;

/**
 * Ingest relays a stream's origin reported as not taking its pushes, left out
 * of that stream's ingest choice for a while. In memory and bounded: losing it
 * on restart only means the origin reports again within one segment.
 */
export class IngestExclusions {
  /** streamId → (nodeId → until, ms); both in age order. */
  readonly #byStream = new Map<string, Map<string, number>>();

  constructor(
    private readonly forMs: number,
    private readonly now: () => number,
  ) {}

  exclude(streamId: string, nodeId: string): void {
    const nodes = this.#byStream.get(streamId) ?? new Map<string, number>();
    this.#byStream.delete(streamId);
    this.#byStream.set(streamId, nodes);
    nodes.delete(nodeId);
    nodes.set(nodeId, this.now() + this.forMs);
    if (nodes.size > MAX_PER_STREAM) nodes.delete(nodes.keys().next().value as string);
    if (this.#byStream.size > MAX_STREAMS)
      this.#byStream.delete(this.#byStream.keys().next().value as string);
  }

  /** The relays excluded for `streamId` now. */
  of(streamId: string): Set<string> {
    const nodes = this.#byStream.get(streamId);
    if (!nodes) return new Set();
    const t = this.now();
    for (const [id, until] of nodes) if (until <= t) nodes.delete(id);
    if (nodes.size === 0) this.#byStream.delete(streamId);
    return new Set(nodes.keys());
  }
}
