import { supportsStream as supports } from "@streamrp2p/protocol";
import type { AssignmentRow, NodeRow, StreamRow } from "./store.ts";

/**
 * Routing decisions as pure functions over the registry, so they are tested
 * without a database and reused by the simulator.
 */

/** Heard from recently and not leaving: the only nodes anything is routed to. */
export function isHealthy(
  node: Pick<NodeRow, "draining" | "lastHeartbeatAt">,
  now: number,
  nodeTimeoutMs: number,
): boolean {
  return !node.draining && now - node.lastHeartbeatAt <= nodeTimeoutMs;
}

export function supportsStream(node: NodeRow, stream: Pick<StreamRow, "streamId" | "signer">): boolean {
  return supports(node.streams, stream.streamId, stream.signer);
}

/** Fraction of offered egress in use, in [0, ∞). */
export function loadRatio(node: NodeRow): number {
  return node.egressBps / (node.capacityMbps * 1_000_000);
}

/**
 * How far a node's reported live edge may run ahead of the segment ledger
 * (read every few seconds from the ingest relays) before it is a lie.
 */
export const EDGE_SLACK_SEGMENTS = 10;

/**
 * Nodes as routing may believe them for one stream: a node that reports an
 * edge beyond what the stream has produced (the segment ledger, from the
 * origin's signatures) does not hold the stream as far as routing goes, so a
 * false claim attracts no viewers and no child relays.
 */
export function withPlausibleEdges(
  nodes: NodeRow[],
  streamId: string,
  ledgerEdge: number | undefined,
): NodeRow[] {
  if (ledgerEdge === undefined) return nodes;
  return nodes.map((n) => {
    const claim = liveEdgeOf(n, streamId);
    if (claim <= ledgerEdge + EDGE_SLACK_SEGMENTS) return n;
    return { ...n, load: n.load.map((l) => (l.streamId === streamId ? { ...l, liveEdgeSeq: -1 } : l)) };
  });
}

export function liveEdgeOf(node: NodeRow, streamId: string): number {
  return node.load.find((l) => l.streamId === streamId)?.liveEdgeSeq ?? -1;
}

/**
 * Keeps the stream's current ingest relays while healthy and fills the rest
 * with the least-loaded healthy ingest-capable nodes: a stable choice, so an
 * origin does not hop between relays. `excluded`: relays the stream's origin
 * reported (signed) as not taking its pushes.
 */
export function chooseIngest(
  stream: StreamRow,
  nodes: NodeRow[],
  now: number,
  nodeTimeoutMs: number,
  count: number,
  excluded: ReadonlySet<string> = new Set(),
): string[] {
  const usable = nodes.filter(
    (n) =>
      n.ingest && isHealthy(n, now, nodeTimeoutMs) && supportsStream(n, stream) && !excluded.has(n.nodeId),
  );
  const byId = new Map(usable.map((n) => [n.nodeId, n]));
  const kept = stream.ingest.filter((id) => byId.has(id)).slice(0, count);
  const rest = usable
    .filter((n) => !kept.includes(n.nodeId))
    .sort((a, b) => loadRatio(a) - loadRatio(b) || a.nodeId.localeCompare(b.nodeId));
  return [...kept, ...rest.slice(0, count - kept.length).map((n) => n.nodeId)];
}

export interface UpstreamChoice {
  node: NodeRow;
  depth: number;
}

/** Nodes below `nodeId` in the stream's tree: never its upstream (no cycles). */
function descendantsOf(nodeId: string, assignments: AssignmentRow[]): Set<string> {
  const out = new Set<string>();
  const queue = [nodeId];
  while (queue.length > 0) {
    const id = queue.pop() as string;
    for (const a of assignments) {
      if (a.upstreamId === id && !out.has(a.nodeId)) {
        out.add(a.nodeId);
        queue.push(a.nodeId);
      }
    }
  }
  return out;
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
}

/**
 * Picks an upstream for a relay: an ingest relay (depth 1) or a relay already
 * carrying the stream with a free child slot; same region first, then
 * shallower, then fewer children.
 */
export function chooseUpstream(q: UpstreamQuery): UpstreamChoice | undefined {
  const below = descendantsOf(q.nodeId, q.assignments);
  const depthOf = new Map<string, number>();
  for (const id of q.stream.ingest) depthOf.set(id, 1);
  for (const a of q.assignments) if (!depthOf.has(a.nodeId)) depthOf.set(a.nodeId, a.depth);
  const children = new Map<string, number>();
  for (const a of q.assignments) {
    if (a.nodeId !== q.nodeId) children.set(a.upstreamId, (children.get(a.upstreamId) ?? 0) + 1);
  }
  const candidates = q.nodes.filter((n) => {
    if (n.nodeId === q.nodeId || q.exclude.includes(n.nodeId) || below.has(n.nodeId)) return false;
    if (!isHealthy(n, q.now, q.nodeTimeoutMs) || !depthOf.has(n.nodeId)) return false;
    const isIngest = q.stream.ingest.includes(n.nodeId);
    // A pulling relay is an upstream only once it really holds the stream.
    if (!isIngest && liveEdgeOf(n, q.stream.streamId) < 0) return false;
    return (children.get(n.nodeId) ?? 0) < q.maxChildren;
  });
  const score = (n: NodeRow) => [
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

/**
 * A node's standing for one stream: quality in [0, 1]; `tampered` with a proof on this stream
 * (never offered); `suspect` with unexpired unproven evidence on it (offered, ranked lower).
 */
export interface NodeStanding {
  quality: number;
  tampered: boolean;
  suspect: boolean;
}

/** Streams a node should pull: live somewhere, supported by it, and not pushed to it. */
export function streamsToCarry(
  node: NodeRow,
  streams: StreamRow[],
  nodes: NodeRow[],
  now: number,
  nodeTimeoutMs: number,
): string[] {
  return streams
    .filter((s) => supportsStream(node, s) && !s.ingest.includes(node.nodeId))
    .filter((s) =>
      nodes.some(
        (n) =>
          s.ingest.includes(n.nodeId) && isHealthy(n, now, nodeTimeoutMs) && liveEdgeOf(n, s.streamId) >= 0,
      ),
    )
    .map((s) => s.streamId);
}
