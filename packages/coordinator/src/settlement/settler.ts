import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  computePayout,
  cumulate,
  type Deployment,
  distributorAbi,
  type NodeSplit,
  poolIdOf,
  publicClient,
  wallet,
} from "@streamrp2p/chain";
import { fraudProofAbi, nodeRegistryAbi } from "@streamrp2p/contracts";
import { type PayeeRewards, SrpError, streamIdToBytes32 } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { Address, Hex, PublicClient } from "viem";
import type { AccountingStore, SettlementRow } from "../accounting/store.ts";
import { choosePool, type RegisteredSigner, sortedPoolDraws } from "./pool-gate.ts";
import { amountsOf, isSolventOn, revertOf } from "./tree-checks.ts";
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

/** How many settled epochs back the newest claimable root is looked for. */
const CLAIMABLE_LOOKBACK = 500;
/** Fresh computations tried when the chain refuses one (it changed under us) before giving the epoch up. */
const COMPUTE_ATTEMPTS = 3;
/** txHash of a stored settlement that will never go on-chain (see `#abandon`). */
export const ABANDONED = "abandoned";

interface OnChainRoot {
  root: Hex;
  postedAt: bigint;
  voided: boolean;
}

/** The tree a new root builds on: the newest root on-chain that is not voided (epoch 0: none). */
interface Base {
  epoch: number;
  amounts: Map<string, bigint>;
}

/**
 * Turns closed epochs into on-chain roots: draws per stream (what the pool of
 * the stream's registered signing key can give this epoch), rewards by weight,
 * operator/backer splits from the registry, a tree of cumulative amounts built
 * on the newest valid (not voided) root, one `postRoot`. Idempotent: a root
 * already on-chain for an epoch is recorded, never posted again.
 *
 * No stream can hold settlement up: a stream without a usable pool is left out
 * of the epoch (logged), a tree the chain refuses is recomputed from fresh
 * chain state, and an epoch that still cannot be posted is given up (logged)
 * so later epochs settle.
 */
export class Settler {
  readonly #client: PublicClient;
  readonly #config: SettlementConfig;

  constructor(
    private readonly store: AccountingStore,
    config: SettlementConfig,
    private readonly log: Logger,
    private readonly registeredSigner: RegisteredSigner,
  ) {
    this.#config = config;
    this.#client = publicClient(chainAt(config.rpcUrl, config.chainId));
  }

  /**
   * Checks that the chain and FraudProof contract really are the deployment
   * this coordinator tells every party to sign for: with a wrong chain id or
   * address in the config, every fraud proof would fail on chain and nodes
   * could lie for free. Throws VALIDATION_FAILED on a mismatch; a chain that
   * cannot be reached is left to the settlement retries (logged).
   */
  async checkDomain(): Promise<void> {
    let chainId: number;
    try {
      chainId = await this.#client.getChainId();
    } catch (err) {
      this.log.warn("cannot check the signing domain against the chain now", { err });
      return;
    }
    const { fraudProof } = this.#config.deployment;
    const domain = (await this.#client
      .readContract({ address: fraudProof, abi: fraudProofAbi, functionName: "eip712Domain" })
      .catch((cause: unknown) => {
        throw new SrpError("VALIDATION_FAILED", `no FraudProof answers at ${fraudProof}`, { cause });
      })) as readonly [Hex, string, string, bigint, Address, Hex, readonly bigint[]];
    if (
      chainId !== this.#config.chainId ||
      Number(domain[3]) !== chainId ||
      domain[4].toLowerCase() !== fraudProof.toLowerCase()
    ) {
      throw new SrpError(
        "VALIDATION_FAILED",
        `settlement config names chain ${this.#config.chainId} and FraudProof ${fraudProof}; the chain is ${chainId} and the contract signs for ${domain[3]}/${domain[4]}`,
      );
    }
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

  #read(functionName: "latestEpoch" | "lastValidEpoch"): Promise<bigint> {
    return this.#client.readContract({
      address: this.#config.deployment.distributor,
      abi: distributorAbi,
      functionName,
    }) as Promise<bigint>;
  }

  async #root(epoch: number): Promise<OnChainRoot> {
    const r = (await this.#client.readContract({
      address: this.#config.deployment.distributor,
      abi: distributorAbi,
      functionName: "roots",
      args: [BigInt(epoch)],
    })) as readonly [Hex, bigint, boolean, bigint, bigint];
    return { root: r[0], postedAt: r[1], voided: r[2] };
  }

  /** The newest valid root's tree, as the chain names it (voided roots are never built on). */
  async #base(): Promise<Base> {
    const epoch = Number(await this.#read("lastValidEpoch"));
    if (epoch === 0) return { epoch, amounts: new Map() };
    const row = await this.store.getSettlement(epoch);
    const onChain = await this.#root(epoch);
    if (!row || row.root !== onChain.root)
      throw new SrpError("CONFLICT", `the valid root of epoch ${epoch} is not one this coordinator stored`);
    return { epoch, amounts: amountsOf(row) };
  }

  /** Everything owed to each payee after `epoch`, as a stored (not yet posted) settlement. */
  async #compute(epoch: number, base: Base): Promise<SettlementRow | undefined> {
    const closed = await this.store.getEpoch(epoch);
    if (!closed) throw new SrpError("NOT_FOUND", `epoch ${epoch} is not closed`);
    const credits = closed.credits.filter((c) => c.weight > 0);
    const drawable = new Map<string, bigint>();
    for (const streamId of new Set(credits.map((c) => c.streamId))) {
      const pool = await choosePool(
        this.#client,
        this.#config.deployment.pools,
        streamId,
        this.registeredSigner,
      );
      if (pool.ok) drawable.set(streamId, pool.drawable);
      else
        this.log.warn("stream left out of the epoch", {
          epoch,
          streamId,
          reason: pool.reason,
          ...pool.details,
        });
    }
    const payout = computePayout(
      credits.filter((c) => drawable.has(c.streamId)),
      drawable,
      await this.#splits([...new Set(credits.map((c) => c.nodeId))]),
    );
    const cumulative = cumulate(base.amounts, payout.amounts);
    if (cumulative.size === 0) return undefined;
    const tree = StandardMerkleTree.of(
      [...cumulative].map(([a, v]): Leaf => [a, v.toString()]),
      ["address", "uint256"],
    );
    return {
      epoch,
      root: tree.root,
      tree: JSON.stringify(tree.dump()),
      draws: JSON.stringify(Object.fromEntries([...payout.draws].map(([s, v]) => [s, v.toString()]))),
      txHash: null,
      postedAt: 0,
    };
  }

  /** postRoot's arguments for a stored settlement built on `base`. */
  async #postArgs(row: SettlementRow, base: Base) {
    const draws = JSON.parse(row.draws) as Record<string, string>;
    const perPool: Array<[Hex, bigint]> = [];
    for (const [streamId, amount] of Object.entries(draws)) {
      // The pool the settlement was computed against (choosePool checked it then).
      const signer = await this.registeredSigner(streamId);
      if (!signer) throw new SrpError("STREAM_NOT_FOUND", `stream ${streamId} is no longer registered`);
      perPool.push([poolIdOf(streamIdToBytes32(streamId), signer as Address), BigInt(amount)]);
    }
    // The distributor takes each pool once, ids strictly increasing.
    const { poolIds, amounts } = sortedPoolDraws(perPool);
    return [BigInt(row.epoch), BigInt(base.epoch), row.root as Hex, poolIds, amounts] as const;
  }

  /** Checks with the chain (eth_call) that posting `row` on `base` would succeed; throws what it reverts with. */
  async #simulate(row: SettlementRow, base: Base): Promise<void> {
    const settler = wallet(chainAt(this.#config.rpcUrl, this.#config.chainId), this.#config.settlerKey);
    await this.#client.simulateContract({
      // The pending block: its timestamp is now (the latest block may be old), which the
      // distributor compares with the epoch's end.
      blockTag: "pending",
      account: settler.account,
      address: this.#config.deployment.distributor,
      abi: distributorAbi,
      functionName: "postRoot",
      args: await this.#postArgs(row, base),
    });
  }

  /** Gives an epoch up for good: its rewards stay in the pools; later epochs go on. */
  async #abandon(epoch: number, row: SettlementRow | undefined, reason: string): Promise<undefined> {
    this.log.error("epoch settlement given up", { epoch, reason });
    if (row) await this.store.putSettlement({ ...row, txHash: ABANDONED, postedAt: 0 });
    return undefined;
  }

  /** A settlement the chain accepts now: the stored one if still valid, else a fresh one (undefined: nothing owed). */
  async #postable(
    epoch: number,
    stored: SettlementRow | undefined,
    base: Base,
  ): Promise<{ give: string } | { row: SettlementRow | undefined }> {
    if (stored) {
      // Stored before a crash or a failed send: post it only if it is still sound on today's base.
      if (!isSolventOn(stored, base.amounts))
        return { give: "stored tree is not solvent on the newest valid root" };
      try {
        await this.#simulate(stored, base);
        return { row: stored };
      } catch (err) {
        const revert = revertOf(err);
        if (revert?.data?.errorName === "EpochNotOver")
          throw new SrpError("UNAVAILABLE", `epoch ${epoch} has not ended on-chain yet`, { cause: err });
        if (revert) return { give: `stored tree refused: ${revert.data?.errorName ?? revert.shortMessage}` };
        if (err instanceof SrpError && err.code === "STREAM_NOT_FOUND") return { give: err.message };
        throw err;
      }
    }
    let last = "";
    for (let attempt = 0; attempt < COMPUTE_ATTEMPTS; attempt++) {
      const row = await this.#compute(epoch, base);
      if (!row) return { row: undefined };
      try {
        await this.#simulate(row, base);
        // Fixed before any transaction: a retry, or another replica, posts the same root.
        const fixed = await this.store.putSettlement(row);
        if (fixed.root !== row.root) return this.#postable(epoch, fixed, base);
        return { row };
      } catch (err) {
        const revert = revertOf(err);
        if (!revert) throw err;
        last = revert.data?.errorName ?? revert.shortMessage;
        // The chain's clock has not reached the epoch's end yet: a later try will do.
        if (last === "EpochNotOver")
          throw new SrpError("UNAVAILABLE", `epoch ${epoch} has not ended on-chain yet`, { cause: err });
        this.log.warn("chain refused the epoch's tree: recomputing", { epoch, attempt, revert: last });
      }
    }
    return { give: `refused ${COMPUTE_ATTEMPTS} times: ${last}` };
  }

  /** Settles `epoch` (a closed epoch); returns the root, or undefined when nothing is owed or the epoch was given up. */
  async settle(epoch: number): Promise<string | undefined> {
    const done = await this.store.getSettlement(epoch);
    if (done?.txHash) return done.txHash === ABANDONED ? undefined : done.root;
    const onChain = await this.#root(epoch);
    if (onChain.postedAt !== 0n) {
      if (done?.root !== onChain.root) return this.#abandon(epoch, done, "another root is on-chain for it");
      await this.store.putSettlement({
        ...done,
        txHash: "already-posted",
        postedAt: Number(onChain.postedAt) * 1000,
      });
      return done.root;
    }
    if (BigInt(epoch) <= (await this.#read("latestEpoch")))
      return this.#abandon(epoch, done, "a later epoch's root is already on-chain");
    const base = await this.#base();
    const postable = await this.#postable(epoch, done, base);
    if ("give" in postable) return this.#abandon(epoch, done ?? undefined, postable.give ?? "");
    const row = postable.row;
    if (!row) return undefined;

    const settler = wallet(chainAt(this.#config.rpcUrl, this.#config.chainId), this.#config.settlerKey);
    const hash = await settler.writeContract({
      address: this.#config.deployment.distributor,
      abi: distributorAbi,
      functionName: "postRoot",
      args: await this.#postArgs(row, base),
    });
    const receipt = await this.#client.waitForTransactionReceipt({ hash });
    // A revert here (the chain changed since the simulation) is retried: the stored tree is
    // re-checked and, if unsound, the epoch given up.
    if (receipt.status !== "success")
      throw new SrpError("UPSTREAM_FAILED", `postRoot for epoch ${epoch} reverted`);
    await this.store.putSettlement({ ...row, txHash: hash, postedAt: Date.now() });
    this.log.info("epoch root posted", {
      epoch,
      base: base.epoch,
      root: row.root,
      tx: hash,
      gasUsed: receipt.gasUsed.toString(),
    });
    return row.root;
  }

  /** Settles every closed epoch not settled yet, oldest first; a failure (not a refusal) is retried on the next call. */
  async settlePending(closedEpochs: number[]): Promise<void> {
    for (const epoch of closedEpochs) await this.settle(epoch);
  }

  /** The newest tree that is, or may still become, valid: a pending settlement, else the newest valid root's. */
  async #latestTree(): Promise<{ epoch: number | null; amounts: Map<string, bigint> }> {
    const last = await this.store.lastSettlement();
    if (last && last.txHash === null) return { epoch: last.epoch, amounts: amountsOf(last) };
    const base = await this.#base();
    return { epoch: last?.epoch ?? null, amounts: base.amounts };
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
    const latest = await this.#latestTree();
    const earned = latest.amounts;
    let claimableRow: { tree: string } | undefined;
    const from = latest.epoch ?? -1;
    for (let n = from; n >= 0 && n > from - CLAIMABLE_LOOKBACK; n--) {
      const row = await this.store.getSettlement(n);
      if (!row?.txHash || row.txHash === ABANDONED) continue;
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
    return { latestEpoch: latest.epoch, payees: out };
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
