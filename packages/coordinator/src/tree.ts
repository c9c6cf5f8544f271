import { UPSTREAM_LAG_SEGMENTS } from "@streamrp2p/protocol";
import { DEFAULT_VIEWER_BPS } from "./routing/capacity.ts";
import { isHealthy, liveEdgeOf, loadRatio, supportsStream } from "./routing.ts";
import type { AssignmentRow, NodeRow, StreamRow } from "./store.ts";

/**
 * The relay tree of one stream, as pure functions over the registry (nodes,
 * their heartbeats, the assignments table), so every rule is tested without a
 * database and reused by the simulator.
 *
 * Shape: the origin pushes to the stream's ingest relays (depth 1); every
 * other relay pulls from one upstream the coordinator assigned it. Each node,
 * ingest relays included, feeds at most `maxChildren` relays, and a new relay
 * takes the shallowest free slot, so n relays form a tree of depth about
 * 1 + log_maxChildren(n).
 *
 * Demand: a relay carries a stream while it has viewers or children, or
 * while the coordinator keeps it as a standby (see `recruits`). When none of
 * these holds, the coordinator drops the stream from the relay's heartbeat
 * `carry` list and the relay tears the stream down after its grace period.
 */

/**
 * Assignments that still count: the child is healthy and either reports the
 * stream in its heartbeat or was assigned within the last `nodeTimeoutMs` (it
 * has not had the time to report yet). A dead child, or one that tore the
 * stream down, frees its slot under its upstream.
 */
export function liveAssignments(
  streamId: string,
  assignments: readonly AssignmentRow[],
  nodes: readonly NodeRow[] | ReadonlyMap<string, NodeRow>,
  now: number,
  nodeTimeoutMs: number,
): AssignmentRow[] {
  const byId: ReadonlyMap<string, NodeRow> =
    nodes instanceof Map ? nodes : new Map((nodes as readonly NodeRow[]).map((n) => [n.nodeId, n]));
  return assignments.filter((a) => {
    const child = byId.get(a.nodeId);
    if (!child || a.streamId !== streamId || !isHealthy(child, now, nodeTimeoutMs)) return false;
    return child.load.some((l) => l.streamId === streamId) || now - a.assignedAt <= nodeTimeoutMs;
  });
}

/** Live children per upstream node id. */
export function childCounts(live: readonly AssignmentRow[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of live) out.set(a.upstreamId, (out.get(a.upstreamId) ?? 0) + 1);
  return out;
}

/**
 * Depth of every node reachable from the ingest relays (depth 1) through live
 * assignments. A relay whose parent chain is broken (its upstream died and it
 * has not re-parented yet) has no depth, and nothing is attached below it.
 */
export function depthsOf(
  ingest: readonly string[],
  live: readonly AssignmentRow[],
  children: ReadonlyMap<string, readonly string[]> = childrenByUpstream(live),
): Map<string, number> {
  const depth = new Map<string, number>();
  const queue: string[] = [];
  for (const id of ingest) {
    depth.set(id, 1);
    queue.push(id);
  }
  // Breadth first: each node gets its shortest depth once, so a cycle in stale rows cannot loop.
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const child of children.get(id) ?? []) {
      if (depth.has(child)) continue;
      depth.set(child, (depth.get(id) ?? 1) + 1);
      queue.push(child);
    }
  }
  return depth;
}

/** Each upstream's children in `assignments`. */
export function childrenByUpstream(assignments: readonly AssignmentRow[]): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const a of assignments) {
    const list = children.get(a.upstreamId);
    if (list) list.push(a.nodeId);
    else children.set(a.upstreamId, [a.nodeId]);
  }
  return children;
}

/** Nodes below any of `roots` in the stream's tree: never an upstream of theirs (no cycles). */
export function descendantsOf(
  roots: readonly string[],
  children: ReadonlyMap<string, readonly string[]>,
): Set<string> {
  const out = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop() as string) ?? []) {
      if (out.has(child)) continue;
      out.add(child);
      queue.push(child);
    }
  }
  return out;
}

/** Whether a relay's reported edge is more than UPSTREAM_LAG_SEGMENTS behind the ledger's. */
export function isLagging(edge: number, ledgerEdge: number | undefined): boolean {
  return ledgerEdge !== undefined && edge < ledgerEdge - UPSTREAM_LAG_SEGMENTS;
}

export interface UpstreamChoice {
  node: NodeRow;
  depth: number;
}

export interface UpstreamQuery {
  stream: StreamRow;
  nodeId: string;
  requesterRegion: string | undefined;
  exclude: readonly string[];
  nodes: NodeRow[];
  assignments: AssignmentRow[];
  now: number;
  nodeTimeoutMs: number;
  maxChildren: number;
  /** The stream's newest segment in the segment ledger: relays far behind it feed no one. */
  ledgerEdge?: number;
}

/**
 * Picks an upstream for a relay: an ingest relay or a relay in the tree that
 * holds the stream, is not lagging, and has a free child slot; same region
 * first, then shallower, then fewer children, then lighter load.
 */
export function chooseUpstream(q: UpstreamQuery): UpstreamChoice | undefined {
  const streamId = q.stream.streamId;
  // The requester's own row does not count: it is moving.
  const live = liveAssignments(streamId, q.assignments, q.nodes, q.now, q.nodeTimeoutMs).filter(
    (a) => a.nodeId !== q.nodeId,
  );
  const tree = childrenByUpstream(live);
  const below = descendantsOf([q.nodeId], tree);
  // A relay the requester left (stale, dead, lagging) also feeds its own subtree: moving to one
  // of its children is likely moving to the same stall one hop further down. Last resort only.
  const underLeft = descendantsOf(q.exclude, tree);
  const depthOf = depthsOf(q.stream.ingest, live, tree);
  const children = childCounts(live);
  const candidates = q.nodes.filter((n) => {
    if (n.nodeId === q.nodeId || q.exclude.includes(n.nodeId) || below.has(n.nodeId)) return false;
    if (!isHealthy(n, q.now, q.nodeTimeoutMs) || !depthOf.has(n.nodeId)) return false;
    if (!q.stream.ingest.includes(n.nodeId)) {
      // A pulling relay is an upstream only once it really holds the stream, and keeps up with it.
      const edge = liveEdgeOf(n, streamId);
      if (edge < 0 || isLagging(edge, q.ledgerEdge)) return false;
    }
    return (children.get(n.nodeId) ?? 0) < q.maxChildren;
  });
  const score = (n: NodeRow) => [
    underLeft.has(n.nodeId) ? 1 : 0,
    n.region === q.requesterRegion ? 0 : 1,
    depthOf.get(n.nodeId) ?? 99,
    children.get(n.nodeId) ?? 0,
    loadRatio(n),
  ];
  candidates.sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    for (let i = 0; i < sa.length; i++) {
      const d = (sa[i] ?? 0) - (sb[i] ?? 0);
      if (d !== 0) return d;
    }
    return a.nodeId.localeCompare(b.nodeId);
  });
  const best = candidates[0];
  return best && { node: best, depth: (depthOf.get(best.nodeId) ?? 1) + 1 };
}

export interface DemandOptions {
  /** Relays beyond the ingest relays kept carrying each live stream even without demand (warm standbys). */
  minRelaysPerStream: number;
  /**
   * A holder whose demand (`demandRatio`) reaches this fraction of its capacity earns the stream
   * one more standby, and one more for every further such fraction (up to MAX_RECRUITS_PER_HOLDER).
   */
  recruitLoadRatio: number;
}

/**
 * Standbys one holder earns per plan however far over its capacity it is: a flash crowd's
 * tree grows by up to this factor per plan (the standbys take free slots under maxChildren).
 */
export const MAX_RECRUITS_PER_HOLDER = 4;

/**
 * How loaded a node is, as its heartbeat tells: its egress over its declared capacity, or its
 * connections at a typical viewer's rate when that is more. A node swamped by a flash crowd
 * cannot send more than its line, so its egress alone would say "full" at best, never "five
 * times over"; its connections keep counting the viewers who are waiting.
 */
export function demandRatio(node: NodeRow): number {
  const capacityBps = node.capacityMbps * 1_000_000;
  const askedBps = Math.max(node.egressBps, node.connections * DEFAULT_VIEWER_BPS);
  return capacityBps > 0 ? askedBps / capacityBps : askedBps > 0 ? Number.POSITIVE_INFINITY : 0;
}

/** Standbys a holder earns: one per `recruitLoadRatio` of demand, at most MAX_RECRUITS_PER_HOLDER. */
export function recruitsEarned(node: NodeRow, o: DemandOptions): number {
  const r = demandRatio(node);
  if (!(o.recruitLoadRatio > 0) || r < o.recruitLoadRatio) return 0;
  return Math.min(MAX_RECRUITS_PER_HOLDER, Math.floor(r / o.recruitLoadRatio));
}

/** Viewers (as the node reported them) or live children: the node's own reason to carry the stream. */
export function hasDemand(node: NodeRow, streamId: string, children: ReadonlyMap<string, number>): boolean {
  const viewers = node.load.find((l) => l.streamId === streamId)?.viewers ?? 0;
  return viewers > 0 || (children.get(node.nodeId) ?? 0) > 0;
}

/**
 * Healthy nodes prepared once for many streams' standby choices (`recruitsFrom`): each
 * heartbeat reply reads a plan made from it for every stream at once (`CarryPlan`), so no
 * reply scans every node for every stream.
 */
export interface RecruitIndex {
  byId: ReadonlyMap<string, NodeRow>;
  /** Healthy nodes, least loaded first (then by id). */
  byLoad: readonly NodeRow[];
  /** Healthy nodes whose heartbeat lists the stream. */
  holdersOf(streamId: string): readonly NodeRow[];
  isHealthy(node: NodeRow): boolean;
}

const byLoadThenId = (a: NodeRow, b: NodeRow) =>
  loadRatio(a) - loadRatio(b) || a.nodeId.localeCompare(b.nodeId);

export function recruitIndex(nodes: readonly NodeRow[], now: number, nodeTimeoutMs: number): RecruitIndex {
  const healthy = nodes.filter((n) => isHealthy(n, now, nodeTimeoutMs));
  const healthyIds = new Set(healthy.map((n) => n.nodeId));
  const holders = new Map<string, NodeRow[]>();
  for (const n of healthy) {
    for (const l of n.load) {
      const list = holders.get(l.streamId);
      if (list) list.push(n);
      else holders.set(l.streamId, [n]);
    }
  }
  return {
    byId: new Map(nodes.map((n) => [n.nodeId, n])),
    byLoad: [...healthy].sort(byLoadThenId),
    holdersOf: (id) => holders.get(id) ?? [],
    isHealthy: (n) => healthyIds.has(n.nodeId),
  };
}

/**
 * Relays the coordinator keeps carrying a stream without demand of their own,
 * so that new viewers and child relays find it warm: enough to reach
 * `minRelaysPerStream` carriers, plus, for every holder (an ingest relay or a
 * relay with demand) near or over its capacity, one per `recruitLoadRatio` of
 * its demand (`recruitsEarned`): a tree grows as fast as its crowd. Relays already holding the stream
 * are kept first (no churn), then the least loaded. A full fan-out recruits
 * no one: a standby needs a free slot itself, and the tree grows below the
 * slots that are free.
 */
export function recruits(
  stream: StreamRow,
  nodes: readonly NodeRow[],
  children: ReadonlyMap<string, number>,
  now: number,
  nodeTimeoutMs: number,
  o: DemandOptions,
): Set<string> {
  return recruitsFrom(stream, recruitIndex(nodes, now, nodeTimeoutMs), children, o);
}

/** `recruits` over a prepared index: O(holders + standbys), not O(nodes log nodes), per stream. */
export function recruitsFrom(
  stream: StreamRow,
  ix: RecruitIndex,
  children: ReadonlyMap<string, number>,
  o: DemandOptions,
): Set<string> {
  const isPuller = (n: NodeRow) => supportsStream(n, stream) && !stream.ingest.includes(n.nodeId);
  const demanded = new Map<string, NodeRow>();
  const consider = (n: NodeRow | undefined) => {
    if (n && ix.isHealthy(n) && isPuller(n) && hasDemand(n, stream.streamId, children))
      demanded.set(n.nodeId, n);
  };
  for (const n of ix.holdersOf(stream.streamId)) consider(n);
  for (const id of children.keys()) consider(ix.byId.get(id));
  const ingest = stream.ingest.flatMap((id) => {
    const n = ix.byId.get(id);
    return n && ix.isHealthy(n) ? [n] : [];
  });
  let busy = 0;
  for (const n of [...ingest, ...demanded.values()]) busy += recruitsEarned(n, o);
  const need = Math.max(0, o.minRelaysPerStream - demanded.size) + busy;
  const out = new Set<string>();
  const spare = (n: NodeRow) => isPuller(n) && !demanded.has(n.nodeId) && !out.has(n.nodeId);
  // Holding the stream first (no churn), each group least loaded first.
  const holding = ix
    .holdersOf(stream.streamId)
    .filter((n) => liveEdgeOf(n, stream.streamId) >= 0 && spare(n))
    .sort(byLoadThenId);
  for (const n of holding) {
    if (out.size >= need) return out;
    out.add(n.nodeId);
  }
  for (const n of ix.byLoad) {
    if (out.size >= need) break;
    if (liveEdgeOf(n, stream.streamId) < 0 && spare(n)) out.add(n.nodeId);
  }
  return out;
}

/** One stream with the assignments the coordinator holds for it. */
export interface StreamTree {
  stream: StreamRow;
  assignments: readonly AssignmentRow[];
}

/**
 * Streams a node should pull: live at an ingest relay, supported by the node,
 * not pushed to it, and wanted there: the node has viewers or children for
 * it, or is one of its standbys (`recruits`).
 */
export function streamsToCarry(
  node: NodeRow,
  trees: readonly StreamTree[],
  nodes: readonly NodeRow[],
  now: number,
  nodeTimeoutMs: number,
  o: DemandOptions,
): string[] {
  return trees
    .filter(({ stream: s }) => supportsStream(node, s) && !s.ingest.includes(node.nodeId))
    .filter(({ stream: s }) =>
      nodes.some(
        (n) =>
          s.ingest.includes(n.nodeId) && isHealthy(n, now, nodeTimeoutMs) && liveEdgeOf(n, s.streamId) >= 0,
      ),
    )
    .filter(({ stream: s, assignments }) => {
      const children = childCounts(liveAssignments(s.streamId, assignments, nodes, now, nodeTimeoutMs));
      return (
        hasDemand(node, s.streamId, children) ||
        recruits(s, nodes, children, now, nodeTimeoutMs, o).has(node.nodeId)
      );
    })
    .map(({ stream: s }) => s.streamId);
}
