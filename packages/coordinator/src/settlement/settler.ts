import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  computePayout,
  cumulate,
  type Deployment,
  distributorAbi,
  type NodeSplit,
  publicClient,
  wallet,
} from "@streamrp2p/chain";
import { nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { type PayeeRewards, SrpError, streamIdToBytes32 } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { Address, Hex, PublicClient } from "viem";
import type { AccountingStore } from "../accounting/store.ts";

export interface SettlementConfig {
  rpcUrl: string;
  chainId: number;
  /** Key of the account allowed to post roots (a secret; never logged). */
  settlerKey: Hex;
  deployment: Deployment;
}

export interface ClaimProof {
  epoch: number;
  account: string;
  /** Everything owed to `account` up to this epoch, in token base units (decimal string). */
  cumulative: string;
  proof: string[];
  root: string;
}

type Leaf = [string, string];

/** Cumulative amount per payee in a stored settlement tree (none without a settlement). */
function amountsOf(row: { tree: string } | undefined): Map<string, bigint> {
  if (!row) return new Map();
  const dump = JSON.parse(row.tree) as { values: Array<{ value: Leaf }> };
  return new Map(dump.values.map((v) => [v.value[0], BigInt(v.value[1])]));
}

/** How many settled epochs back the newest claimable root is looked for. */
const CLAIMABLE_LOOKBACK = 500;

/**
 * Turns closed epochs into on-chain roots: draws per stream (what the pool
 * can give this epoch), rewards by weight, operator/backer splits from the
 * registry, a tree of cumulative amounts, one `postRoot`. Idempotent: a root
 * already on-chain for an epoch is recorded, never posted again.
 */
export class Settler {
  readonly #client: PublicClient;
  readonly #config: SettlementConfig;

  constructor(
    private readonly store: AccountingStore,
    config: SettlementConfig,
    private readonly log: Logger,
  ) {
    this.#config = config;
    this.#client = publicClient(chainAt(config.rpcUrl, config.chainId));
  }

  async #splits(nodeIds: string[]): Promise<Map<string, NodeSplit>> {
    const { registry } = this.#config.deployment;
    const out = new Map<string, NodeSplit>();
    for (const nodeId of nodeIds) {
      const operator = (await this.#client.readContract({
        address: registry,
        abi: nodeRegistryAbi,
        functionName: "operatorOf",
        args: [nodeId as Address],
      })) as string;
      const backers = (await this.#client.readContract({
        address: registry,
        abi: nodeRegistryAbi,
        functionName: "backersOf",
        args: [nodeId as Address],
      })) as readonly { account: string; bps: number }[];
      // A node nobody registered on-chain is paid to its own key.
      const op = /^0x0{40}$/.test(operator) ? nodeId : operator;
      out.set(nodeId.toLowerCase(), {
        operator: op.toLowerCase(),
        backers: backers.map((b) => ({ account: b.account.toLowerCase(), bps: Number(b.bps) })),
      });
    }
    return out;
  }

  /** Settles `epoch` (a closed epoch); returns the root, or undefined when nothing is owed to anyone yet. */
  async settle(epoch: number): Promise<string | undefined> {
    const done = await this.store.getSettlement(epoch);
    if (done?.txHash) return done.root;
    const closed = await this.store.getEpoch(epoch);
    if (!closed) throw new SrpError("NOT_FOUND", `epoch ${epoch} is not closed`);
    const { distributor, pools } = this.#config.deployment;

    let row = done;
    if (!row) {
      const credits = closed.credits.filter((c) => c.weight > 0);
      const drawable = new Map<string, bigint>();
      for (const streamId of new Set(credits.map((c) => c.streamId))) {
        const amount = (await this.#client.readContract({
          address: pools,
          abi: rewardPoolsAbi,
          functionName: "drawable",
          args: [streamIdToBytes32(streamId)],
        })) as bigint;
        drawable.set(streamId, amount);
      }
      const payout = computePayout(
        credits,
        drawable,
        await this.#splits([...new Set(credits.map((c) => c.nodeId))]),
      );
      const previous = await this.store.lastSettlement();
      const cumulative = cumulate(amountsOf(previous), payout.amounts);
      if (cumulative.size === 0) return undefined;
      const tree = StandardMerkleTree.of(
        [...cumulative].map(([a, v]): Leaf => [a, v.toString()]),
        ["address", "uint256"],
      );
      row = {
        epoch,
        root: tree.root,
        tree: JSON.stringify(tree.dump()),
        draws: JSON.stringify(Object.fromEntries([...payout.draws].map(([s, v]) => [s, v.toString()]))),
        txHash: null,
        postedAt: 0,
      };
      await this.store.putSettlement(row); // the tree is fixed before any transaction: retries post the same root
    }

    const onChain = (await this.#client.readContract({
      address: distributor,
      abi: distributorAbi,
      functionName: "roots",
      args: [BigInt(epoch)],
    })) as readonly [Hex, bigint, boolean, bigint];
    if (onChain[1] !== 0n) {
      await this.store.putSettlement({
        ...row,
        txHash: "already-posted",
        postedAt: Number(onChain[1]) * 1000,
      });
      return row.root;
    }
    const draws = JSON.parse(row.draws) as Record<string, string>;
    const streams = Object.keys(draws);
    const settler = wallet(chainAt(this.#config.rpcUrl, this.#config.chainId), this.#config.settlerKey);
    const hash = await settler.writeContract({
      address: distributor,
      abi: distributorAbi,
      functionName: "postRoot",
      args: [
        BigInt(epoch),
        row.root as Hex,
        streams.map(streamIdToBytes32),
        streams.map((s) => BigInt(draws[s] ?? "0")),
      ],
    });
    const receipt = await this.#client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success")
      throw new SrpError("UPSTREAM_FAILED", `postRoot for epoch ${epoch} reverted`);
    await this.store.putSettlement({ ...row, txHash: hash, postedAt: Date.now() });
    this.log.info("epoch root posted", {
      epoch,
      root: row.root,
      tx: hash,
      gasUsed: receipt.gasUsed.toString(),
    });
    return row.root;
  }

  /** Settles every closed epoch not settled yet, oldest first; retried on the next call when one fails. */
  async settlePending(closedEpochs: number[]): Promise<void> {
    for (const epoch of closedEpochs) await this.settle(epoch);
  }

  /** Who is paid for `nodeId` and what each has earned, can claim now, and has pending. */
  async rewards(nodeId: string): Promise<{ latestEpoch: number | null; payees: PayeeRewards[] }> {
    const split = (await this.#splits([nodeId])).get(nodeId.toLowerCase());
    if (!split) throw new SrpError("NODE_NOT_FOUND", `node ${nodeId} has no reward split`);
    const backed = split.backers.reduce((n, b) => n + b.bps, 0);
    const payees = [
      { account: split.operator, role: "operator" as const, bps: 10_000 - backed },
      ...split.backers.map((b) => ({ account: b.account, role: "backer" as const, bps: b.bps })),
    ];
    const latest = await this.store.lastSettlement();
    const earned = amountsOf(latest);
    let claimableRow: { tree: string } | undefined;
    for (let n = latest?.epoch ?? -1; n >= 0 && latest && n > latest.epoch - CLAIMABLE_LOOKBACK; n--) {
      const row = await this.store.getSettlement(n);
      if (!row?.txHash) continue;
      const claimable = await this.#client.readContract({
        address: this.#config.deployment.distributor,
        abi: distributorAbi,
        functionName: "isClaimable",
        args: [BigInt(n)],
      });
      if (claimable) {
        claimableRow = row;
        break;
      }
    }
    const claimableLeaves = amountsOf(claimableRow);
    const out: PayeeRewards[] = [];
    for (const p of payees) {
      const claimed = (await this.#client.readContract({
        address: this.#config.deployment.distributor,
        abi: distributorAbi,
        functionName: "claimed",
        args: [p.account as Address],
      })) as bigint;
      const e = earned.get(p.account) ?? 0n;
      const c = claimableLeaves.get(p.account) ?? 0n;
      const max = (a: bigint, b: bigint) => (a > b ? a : b);
      out.push({
        ...p,
        account: p.account as `0x${string}`,
        earned: e.toString(),
        claimableCumulative: c.toString(),
        claimed: claimed.toString(),
        claimable: max(0n, c - claimed).toString(),
        pending: max(0n, e - max(c, claimed)).toString(),
      });
    }
    return { latestEpoch: latest?.epoch ?? null, payees: out };
  }

  /** The stored settlement of an epoch: root, draws per stream, transaction (tree omitted). */
  async settlement(
    epoch: number,
  ): Promise<{ epoch: number; root: string; draws: Record<string, string>; txHash: string | null }> {
    const row = await this.store.getSettlement(epoch);
    if (!row) throw new SrpError("NOT_FOUND", `epoch ${epoch} has no settlement`);
    return {
      epoch,
      root: row.root,
      draws: JSON.parse(row.draws) as Record<string, string>,
      txHash: row.txHash,
    };
  }

  async proof(epoch: number, account: string): Promise<ClaimProof> {
    const row = await this.store.getSettlement(epoch);
    if (!row) throw new SrpError("NOT_FOUND", `epoch ${epoch} has no settlement`);
    const tree = StandardMerkleTree.load(JSON.parse(row.tree) as never) as StandardMerkleTree<Leaf>;
    for (const [i, leaf] of tree.entries()) {
      if (leaf[0] === account.toLowerCase()) {
        return { epoch, account: leaf[0], cumulative: leaf[1], proof: tree.getProof(i), root: tree.root };
      }
    }
    throw new SrpError("NOT_FOUND", `nothing owed to ${account} as of epoch ${epoch}`);
  }
}
