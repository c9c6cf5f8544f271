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
 * Egress one stream is expected to take of its ingest relay until the relay's heartbeats
 * show it (the fan-out of a tree's root at a typical viewer's rate). Only its ratio to
 * nodes' capacities matters when many streams are placed at once.
 */
export const INGEST_STREAM_BPS = 4 * 3_000_000; // bit/s

/**
 * A node's load as ingest choice ranks it: its reported egress, or, when more, the streams
 * it is already ingest for at INGEST_STREAM_BPS each, over its declared capacity. Streams
 * registered together (before any heartbeat shows their egress) then spread over the
 * ingest-capable nodes in proportion to capacity instead of all taking the same two.
 */
export function ingestLoadRatio(node: NodeRow, ingestStreams: number): number {
  const capacityBps = node.capacityMbps * 1_000_000;
  const loadBps = Math.max(node.egressBps, ingestStreams * INGEST_STREAM_BPS);
  return capacityBps > 0 ? loadBps / capacityBps : Number.POSITIVE_INFINITY;
}

/**
 * Keeps the stream's current ingest relays while healthy and fills the rest
 * with the least-loaded healthy ingest-capable nodes (`ingestLoadRatio`, given
 * `ingestStreams`: how many streams each node is ingest for now): a stable
 * choice, so an origin does not hop between relays. `excluded`: relays the
 * stream's origin reported (signed) as not taking its pushes.
 */
export function chooseIngest(
  stream: StreamRow,
  nodes: NodeRow[],
  now: number,
  nodeTimeoutMs: number,
  count: number,
  excluded: ReadonlySet<string> = new Set(),
  ingestStreams: ReadonlyMap<string, number> = new Map(),
): string[] {
  const usable = nodes.filter(
    (n) =>
      n.ingest && isHealthy(n, now, nodeTimeoutMs) && supportsStream(n, stream) && !excluded.has(n.nodeId),
  );
  const byId = new Map(usable.map((n) => [n.nodeId, n]));
  const kept = stream.ingest.filter((id) => byId.has(id)).slice(0, count);
  const load = (n: NodeRow) => ingestLoadRatio(n, ingestStreams.get(n.nodeId) ?? 0);
  const rest = usable
    .filter((n) => !kept.includes(n.nodeId))
    .map((n) => ({ n, load: load(n) }))
    .sort((a, b) => a.load - b.load || a.n.nodeId.localeCompare(b.n.nodeId));
  return [...kept, ...rest.slice(0, count - kept.length).map(({ n }) => n.nodeId)];
}

/** Streams each node is ingest for in `streams`. */
export function ingestCounts(streams: readonly Pick<StreamRow, "ingest">[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of streams) for (const id of s.ingest) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
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
