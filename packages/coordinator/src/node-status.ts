import { type NodeStatus, type PayeeRewards, SrpError } from "@streamrp2p/protocol";
import type { AccountingService } from "./accounting/accounting-service.ts";
import type { NodeLookup } from "./node-auth.ts";
import { isHealthy } from "./routing.ts";
import type { Settler } from "./settlement/settler.ts";
import type { CoordinatorStore } from "./store.ts";

export interface NodeStatusDeps {
  store: CoordinatorStore;
  /** The replica's view: heartbeat state is in memory until the next batched write. */
  lookup: NodeLookup;
  accounting: AccountingService;
  settler: Settler | undefined;
  nodeTimeoutMs: number;
  now: () => number;
}

/**
 * Everything an operator or backer asks about a node, in one answer: what it
 * carries and serves now, what viewers receipted, what epochs credited, its
 * reputation with the reasons, and each payee's earned, pending and claimable
 * rewards (read from the chain when the coordinator settles on one).
 */
export async function nodeStatus(d: NodeStatusDeps, rawId: string): Promise<NodeStatus> {
  const nodeId = rawId.toLowerCase();
  const node = await d.lookup(nodeId);
  if (!node) throw new SrpError("NODE_NOT_FOUND", `node ${nodeId} is not registered`);
  const t = d.now();
  const score = await d.accounting.score(nodeId);
  const receipts = await d.store.accounting.nodeReceiptSummary(nodeId);
  const credited = score.epochs.reduce(
    (acc, c) => ({
      bytes: acc.bytes + c.creditedBytes,
      weight: acc.weight + c.weight,
      epochs: acc.epochs.add(c.epoch),
    }),
    { bytes: 0, weight: 0, epochs: new Set<number>() },
  );
  let rewards: { latestEpoch: number | null; payees: PayeeRewards[] } | null = null;
  let rewardsError: string | null = "this coordinator does not settle on a chain";
  if (d.settler) {
    try {
      rewards = await d.settler.rewards(nodeId);
      rewardsError = null;
    } catch (err) {
      rewardsError = `chain unavailable: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
    }
  }
  return {
    nodeId: nodeId as `0x${string}`,
    url: node.url,
    region: node.region,
    ingest: node.ingest,
    supports: node.streams,
    healthy: isHealthy(node, t, d.nodeTimeoutMs),
    draining: node.draining,
    lastHeartbeatAt: node.lastHeartbeatAt,
    connections: node.connections,
    egressBps: node.egressBps,
    capacityMbps: node.capacityMbps,
    bytesServed: node.bytesServed,
    streams: node.load.map((l) => ({
      streamId: l.streamId,
      viewers: l.viewers,
      liveEdgeSeq: l.liveEdgeSeq,
      upstream: l.upstream as `0x${string}` | null,
    })),
    viewers: node.load.reduce((n, l) => n + l.viewers, 0),
    receipts: {
      sessions: receipts.sessions,
      bytes: receipts.receiptedBytes,
      /** Receipted but not yet in a closed epoch. */
      pendingBytes: Math.max(0, receipts.receiptedBytes - receipts.accountedBytes),
    },
    credited: { bytes: credited.bytes, weight: credited.weight, epochs: credited.epochs.size },
    reputation: score.reputation,
    epochs: score.epochs.slice(-24),
    rewards,
    rewardsError,
  };
}
