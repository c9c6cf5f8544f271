import {
  chainAt,
  type Deployment,
  type DevChain,
  deployContracts,
  poolIdOf,
  publicClient,
  signNodeConsent,
  signPoolConsent,
  startDevChain,
  wallet,
} from "@streamrp2p/chain";
import { devTokenAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import type { SettlementConfig } from "@streamrp2p/coordinator";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
import { type Abi, type Address, type Hex, type PublicClient, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";

export interface DevEconomyOptions {
  disputeWindowSeconds: number;
  /** Tokens (whole units) the streamer puts in the pool, and the per-epoch budget. */
  poolFunding: number;
  epochBudget: number;
  /** Stake (whole units) each local node registers with. */
  nodeStake: number;
  /** The coordinator's epoch length (ms): the distributor takes one root per elapsed epoch. */
  epochMs: number;
  /** First epoch a root may be posted for; default: the epoch the contracts are deployed in. */
  firstEpoch?: number;
}

export const DEV_ECONOMY_DEFAULTS: DevEconomyOptions = {
  disputeWindowSeconds: 10,
  poolFunding: 10_000,
  epochBudget: 100,
  nodeStake: 1_000,
  epochMs: 60_000, // ms: the local network's default
};

/** Which dev account plays which role (anvil's public test keys: never real money). */
export const DEV_ROLES = { owner: 0, settler: 1, streamer: 2, operator: 3, supporter: 4 } as const;

export interface DevEconomy {
  chain: DevChain;
  deployment: Deployment;
  client: PublicClient;
  settlement: SettlementConfig;
  keyOf(role: keyof typeof DEV_ROLES): `0x${string}`;
  /** Sends a transaction as a dev role and waits for it; returns the gas used. */
  send(
    role: keyof typeof DEV_ROLES,
    address: Address,
    abi: Abi,
    functionName: string,
    args: unknown[],
  ): Promise<bigint>;
  /** The streamer creates (with the signing key's consent) and funds the pool of (stream, signing key); returns its id. */
  createPool(streamId: string, signingKey: Hex): Promise<Hex>;
  /** The operator registers a node with stake, with the node key's consent. */
  registerNode(nodeKey: Hex): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole economy on one machine: anvil (a real EVM), the contracts
 * deployed, dev tokens minted to the streamer and the operator.
 */
export async function startDevEconomy(init: Partial<DevEconomyOptions> = {}): Promise<DevEconomy> {
  const o = { ...DEV_ECONOMY_DEFAULTS, ...init };
  const chain = await startDevChain();
  try {
    const c = chainAt(chain.rpcUrl, chain.chainId);
    const client = publicClient(c);
    const keyOf = (role: keyof typeof DEV_ROLES) => chain.keys[DEV_ROLES[role]] as `0x${string}`;
    const owner = wallet(c, keyOf("owner"));
    const deployment = await deployContracts(client, owner, {
      disputeWindowSeconds: BigInt(o.disputeWindowSeconds),
      unbondingPeriodSeconds: 7n * 24n * 3600n,
      slashBps: 5_000,
      reporterBps: 2_000,
      settler: wallet(c, keyOf("settler")).account.address,
      epochMs: BigInt(o.epochMs),
      firstEpoch: o.firstEpoch === undefined ? undefined : BigInt(o.firstEpoch),
    });
    const send = async (
      role: keyof typeof DEV_ROLES,
      address: Address,
      abi: Abi,
      functionName: string,
      args: unknown[],
    ) => {
      const w = wallet(c, keyOf(role));
      const hash = await w.writeContract({ address, abi, functionName, args } as never);
      const r = await client.waitForTransactionReceipt({ hash });
      if (r.status !== "success") throw new Error(`${functionName} reverted`);
      return r.gasUsed;
    };
    for (const role of ["streamer", "operator", "supporter"] as const) {
      await send("owner", deployment.token, devTokenAbi, "mint", [
        wallet(c, keyOf(role)).account.address,
        parseEther("1000000"),
      ]);
      await send(role, deployment.token, devTokenAbi, "approve", [deployment.pools, parseEther("1000000")]);
      await send(role, deployment.token, devTokenAbi, "approve", [
        deployment.registry,
        parseEther("1000000"),
      ]);
    }
    return {
      chain,
      deployment,
      client,
      settlement: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, settlerKey: keyOf("settler"), deployment },
      keyOf,
      send,
      async createPool(streamId, signingKey) {
        const id = streamIdToBytes32(streamId);
        const signer = privateKeyToAccount(signingKey);
        const streamer = wallet(c, keyOf("streamer")).account.address;
        const consent = await signPoolConsent(client, deployment.pools, signer, id, streamer);
        await send("streamer", deployment.pools, rewardPoolsAbi, "createPool", [
          id,
          signer.address,
          parseEther(String(o.epochBudget)),
          consent.deadline,
          consent.signature,
        ]);
        const poolId = poolIdOf(id, signer.address);
        await send("streamer", deployment.pools, rewardPoolsAbi, "fund", [
          poolId,
          parseEther(String(o.poolFunding)),
        ]);
        return poolId;
      },
      async registerNode(nodeKey) {
        const node = privateKeyToAccount(nodeKey);
        const operator = wallet(c, keyOf("operator")).account.address;
        const consent = await signNodeConsent(client, deployment.registry, node, operator);
        await send("operator", deployment.registry, nodeRegistryAbi, "register", [
          node.address,
          parseEther(String(o.nodeStake)),
          consent.deadline,
          consent.signature,
        ]);
      },
      stop: () => chain.stop(),
    };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}
