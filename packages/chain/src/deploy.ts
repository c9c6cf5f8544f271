import {
  devTokenAbi,
  devTokenBytecode,
  epochDistributorAbi,
  epochDistributorBytecode,
  fraudProofAbi,
  fraudProofBytecode,
  nodeRegistryAbi,
  nodeRegistryBytecode,
  rewardPoolsAbi,
  rewardPoolsBytecode,
} from "@streamrp2p/contracts";
import type { Address, Hash, PublicClient } from "viem";
import type { Wallet } from "./clients.ts";

export interface DeployOptions {
  /** Seconds a posted root waits before it can be claimed (and can be voided). */
  disputeWindowSeconds: bigint;
  unbondingPeriodSeconds: bigint;
  /** Share of a node's stake a fraud proof takes, and the reporter's share of that (basis points). */
  slashBps: number;
  reporterBps: number;
  settler: Address;
  /** Epoch length (ms), as the coordinator counts epochs: the distributor posts at most one root per elapsed epoch. */
  epochMs: bigint;
  /** The first epoch a root may be posted for; default: the chain's current epoch (nothing before deployment). */
  firstEpoch?: bigint;
  /** An existing ERC-20; default: deploy the dev token. */
  token?: Address;
}

export interface Deployment {
  token: Address;
  registry: Address;
  pools: Address;
  distributor: Address;
  fraudProof: Address;
}

async function deployed(client: PublicClient, hash: Hash): Promise<Address> {
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (!receipt.contractAddress) throw new Error(`deployment ${hash} created no contract`);
  return receipt.contractAddress;
}

/** Deploys and wires the settlement contracts; `owner` becomes their owner (a multisig in production). */
export async function deployContracts(
  client: PublicClient,
  owner: Wallet,
  o: DeployOptions,
): Promise<Deployment> {
  const token =
    o.token ??
    (await deployed(client, await owner.deployContract({ abi: devTokenAbi, bytecode: devTokenBytecode })));
  const registry = await deployed(
    client,
    await owner.deployContract({
      abi: nodeRegistryAbi,
      bytecode: nodeRegistryBytecode,
      args: [token, o.unbondingPeriodSeconds],
    }),
  );
  const pools = await deployed(
    client,
    await owner.deployContract({ abi: rewardPoolsAbi, bytecode: rewardPoolsBytecode, args: [token] }),
  );
  const distributor = await deployed(
    client,
    await owner.deployContract({
      abi: epochDistributorAbi,
      bytecode: epochDistributorBytecode,
      args: [
        token,
        pools,
        o.disputeWindowSeconds,
        o.settler,
        o.epochMs,
        o.firstEpoch ?? ((await client.getBlock()).timestamp * 1000n) / o.epochMs,
      ],
    }),
  );
  const fraudProof = await deployed(
    client,
    await owner.deployContract({
      abi: fraudProofAbi,
      bytecode: fraudProofBytecode,
      args: [registry, pools, o.slashBps, o.reporterBps],
    }),
  );
  await client.waitForTransactionReceipt({
    hash: await owner.writeContract({
      address: registry,
      abi: nodeRegistryAbi,
      functionName: "setSlasher",
      args: [fraudProof],
    }),
  });
  await client.waitForTransactionReceipt({
    hash: await owner.writeContract({
      address: pools,
      abi: rewardPoolsAbi,
      functionName: "setDistributor",
      args: [distributor],
    }),
  });
  return { token, registry, pools, distributor, fraudProof };
}
