import { isHealthy, liveEdgeOf, supportsStream } from "./routing.ts";
import type { AssignmentRow, NodeRow, StreamRow } from "./store.ts";
import {
  childCounts,
  type DemandOptions,
  hasDemand,
  liveAssignments,
  recruitIndex,
  recruitsFrom,
} from "./tree.ts";

/** A new plan for a node it has not seen, or after a change, at most this often (ms). */
const MIN_REMAKE_MS = 100;

/**
 * Which streams every node should carry, worked out for all streams at once
 * and at most once per `maxAgeMs`, so a heartbeat reply is a lookup. It gives
 * what `streamsToCarry` (tree.ts) gives for one node: a live stream the node
 * supports and is not ingest for, wanted there because the node has viewers
 * (its own heartbeat, read fresh), live children, or is a standby. At 10,000
 * nodes and 1,000 streams, answering each heartbeat from the rules directly
 * would scan every node for every stream.
 */
export class CarryPlan {
  /** node id → streams it carries for its children or as a standby. */
  #byNode = new Map<string, Set<string>>();
  /** Streams live at one of their ingest relays. */
  #live = new Map<string, StreamRow>();
  #madeAt = Number.NEGATIVE_INFINITY;
  /** Nodes the plan was made with: one it has never seen (just registered) gets a new plan. */
  #seen = new Set<string>();
  #stale = true;
  #pending: Promise<void> | undefined;

  constructor(
    private readonly inputs: () => Promise<{
      streams: StreamRow[];
      nodes: readonly NodeRow[];
      assignments: readonly AssignmentRow[];
    }>,
    private readonly now: () => number,
    private readonly nodeTimeoutMs: number,
    private readonly demand: DemandOptions,
    private readonly maxAgeMs: number,
  ) {}

  /** Streams `node` (its row with this heartbeat's report) should carry. */
  async carryFor(node: NodeRow): Promise<string[]> {
    const age = this.now() - this.#madeAt;
    if (age >= this.maxAgeMs || this.#stale || !this.#seen.has(node.nodeId)) {
      // A node the plan has not seen (just registered), or a change to the streams, makes a
      // new plan: shared by every heartbeat that asks meanwhile, and not more often than
      // MIN_REMAKE_MS, so a storm of registrations costs one plan per interval.
      const wait = Math.max(0, MIN_REMAKE_MS - age);
      this.#pending ??= new Promise((r) => setTimeout(r, wait))
        .then(() => this.#make())
        .finally(() => {
          this.#pending = undefined;
        });
      await this.#pending;
    }
    const out = new Set(this.#byNode.get(node.nodeId) ?? []);
    for (const l of node.load) if (hasDemand(node, l.streamId, new Map())) out.add(l.streamId);
    return [...out].filter((id) => {
      const s = this.#live.get(id);
      return s !== undefined && supportsStream(node, s) && !s.ingest.includes(node.nodeId);
    });
  }

  /** The streams or their ingest relays changed: the next heartbeat gets a new plan. */
  invalidate(): void {
    this.#stale = true;
  }

  async #make(): Promise<void> {
    this.#stale = false;
    const { streams, nodes, assignments } = await this.inputs();
    const now = this.now();
    const ix = recruitIndex(nodes, now, this.nodeTimeoutMs);
    const byStream = new Map<string, AssignmentRow[]>();
    for (const a of assignments) {
      const list = byStream.get(a.streamId);
      if (list) list.push(a);
      else byStream.set(a.streamId, [a]);
    }
    const byNode = new Map<string, Set<string>>();
    const live = new Map<string, StreamRow>();
    const add = (nodeId: string, streamId: string) => {
      const set = byNode.get(nodeId) ?? new Set<string>();
      set.add(streamId);
      byNode.set(nodeId, set);
    };
    for (const s of streams) {
      const isLive = s.ingest.some((id) => {
        const n = ix.byId.get(id);
        return n !== undefined && isHealthy(n, now, this.nodeTimeoutMs) && liveEdgeOf(n, s.streamId) >= 0;
      });
      if (!isLive) continue;
      live.set(s.streamId, s);
      const children = childCounts(
        liveAssignments(s.streamId, byStream.get(s.streamId) ?? [], ix.byId, now, this.nodeTimeoutMs),
      );
      for (const [id, n] of children) if (n > 0) add(id, s.streamId);
      for (const id of recruitsFrom(s, ix, children, this.demand)) add(id, s.streamId);
    }
    this.#seen = new Set(nodes.map((n) => n.nodeId));
    this.#byNode = byNode;
    this.#live = live;
    this.#madeAt = now;
  }
}
