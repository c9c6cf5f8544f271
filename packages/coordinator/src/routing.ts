import { supportsStream as supports } from "@streamrp2p/protocol";
import type { NodeRow, StreamRow } from "./store.ts";

/**
 * Routing decisions as pure functions over the registry, so they are tested
 * without a database and reused by the simulator. The relay tree (upstreams,
 * which streams a relay carries) is in tree.ts.
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

/**
 * A node's standing for one stream: quality in [0, 1]; `tampered` with a proof on this stream
 * (never offered); `suspect` with unexpired unproven evidence on it (offered, ranked lower).
 */
export interface NodeStanding {
  quality: number;
  tampered: boolean;
  suspect: boolean;
}
