import { computePayout, type NodeSplit } from "@streamrp2p/chain/rewards";
import { SrpError } from "@streamrp2p/protocol";

/** The pool token's base units: 18 decimals, as every ERC-20 the pools take here. */
const BASE_PER_TOKEN = 10n ** 18n;
const TOKEN_MICRO = 1_000_000; // the model keeps amounts to a millionth of a token

/** Whole tokens (a float, to 6 decimals) as base units. */
export function toBaseUnits(tokens: number): bigint {
  if (!Number.isFinite(tokens) || tokens < 0)
    throw new SrpError("VALIDATION_FAILED", `a token amount must be finite and ≥ 0 (got ${tokens})`);
  return BigInt(Math.round(tokens * TOKEN_MICRO)) * (BASE_PER_TOKEN / BigInt(TOKEN_MICRO));
}

/** Base units as whole tokens, rounded down to a millionth (what a payee can count on). */
export function fromBaseUnits(base: bigint): number {
  return Number(base / (BASE_PER_TOKEN / BigInt(TOKEN_MICRO))) / TOKEN_MICRO;
}

export interface NodeCredit {
  nodeId: string;
  /** Bytes credited this epoch on the stream (after the coordinator's caps). */
  creditedBytes: number;
  /** The node's quality factor in [0, 1]. */
  quality: number;
  /** Backers' shares of the node's reward, basis points; the operator takes the rest. */
  backerBps?: number;
}

export interface NodeReward {
  nodeId: string;
  /** The node's whole reward this epoch, tokens. */
  tokens: number;
  operatorTokens: number;
  backerTokens: number;
}

/**
 * One stream's epoch, through the settler's own arithmetic (computePayout of
 * @streamrp2p/chain): the epoch draws `budgetTokens` when any node has weight,
 * each node gets `budget × w_i / Σw` with `w_i = credited bytes × quality`,
 * and its backers their basis points of that, rounded down.
 */
export function epochRewards(budgetTokens: number, nodes: readonly NodeCredit[]): NodeReward[] {
  const streamId = "stream";
  const splits = new Map<string, NodeSplit>();
  for (const n of nodes) {
    const bps = n.backerBps ?? 0;
    if (!Number.isInteger(bps) || bps < 0 || bps > 10_000)
      throw new SrpError("VALIDATION_FAILED", `backer share must be 0..10000 bps (got ${bps})`);
    if (!(n.quality >= 0 && n.quality <= 1))
      throw new SrpError("VALIDATION_FAILED", `quality must be in [0, 1] (got ${n.quality})`);
    if (!Number.isFinite(n.creditedBytes) || n.creditedBytes < 0)
      throw new SrpError("VALIDATION_FAILED", `credited bytes must be ≥ 0 (got ${n.creditedBytes})`);
    splits.set(n.nodeId.toLowerCase(), {
      operator: `op:${n.nodeId}`,
      backers: bps > 0 ? [{ account: `backer:${n.nodeId}`, bps }] : [],
    });
  }
  const payout = computePayout(
    nodes.map((n) => ({ nodeId: n.nodeId, streamId, weight: n.creditedBytes * n.quality })),
    new Map([[streamId, toBaseUnits(budgetTokens)]]),
    splits,
  );
  const amount = (who: string) => payout.amounts.get(who.toLowerCase()) ?? 0n;
  return nodes.map((n) => {
    const operator = amount(`op:${n.nodeId}`);
    const backer = amount(`backer:${n.nodeId}`);
    return {
      nodeId: n.nodeId,
      tokens: fromBaseUnits(operator + backer),
      operatorTokens: fromBaseUnits(operator),
      backerTokens: fromBaseUnits(backer),
    };
  });
}
