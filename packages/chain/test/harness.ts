import {
  chainAt,
  type Deployment,
  type DeployOptions,
  type DevChain,
  deployContracts,
  poolIdOf,
  publicClient,
  signNodeConsent,
  signPoolConsent,
  startDevChain,
  type Wallet,
  wallet,
} from "@streamrp2p/chain";
import { devTokenAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  type Hex,
  type PublicClient,
  parseEther,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

export const ROLES = ["owner", "settler", "streamer", "operator", "supporter", "attacker", "payee"] as const;
export type Role = (typeof ROLES)[number];

/** A real anvil with the contracts deployed and every role funded and approved: what attack tests run against. */
export interface Harness {
  chain: DevChain;
  client: PublicClient;
  d: Deployment;
  w: Record<Role, Wallet>;
  send(w: Wallet, address: Address, abi: Abi, functionName: string, args: unknown[]): Promise<bigint>;
  read(address: Address, abi: Abi, functionName: string, args?: unknown[]): Promise<unknown>;
  balance(a: Address): Promise<bigint>;
  timeTravel(seconds: number): Promise<void>;
  /** The streamer creates and funds the pool of (stream, signing key) with the key's consent. */
  createPool(stream: Hex, signingKey: Hex, budget: bigint, funding: bigint, streamer?: Wallet): Promise<Hex>;
  /** `operator` registers the node of `nodeKey` with the node key's consent. */
  register(operator: Wallet, nodeKey: Hex, stake: bigint): Promise<bigint>;
  stop(): Promise<void>;
}

export const DEFAULTS: Omit<DeployOptions, "settler"> = {
  disputeWindowSeconds: 100n,
  // 1 s epochs from epoch 1 (1970): every small epoch number the tests use has ended.
  epochMs: 1_000n,
  firstEpoch: 1n,
  unbondingPeriodSeconds: 1_000n,
  slashBps: 5_000,
  reporterBps: 2_000,
};

/** The custom error a call reverted with (viem walks the cause chain); "did not revert" otherwise. */
export async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const reverted =
      err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError)
      return reverted.data?.errorName ?? reverted.reason ?? "reverted";
    throw err;
  }
  return "did not revert";
}

/** Simulates, sends and waits for one contract call by `who`; throws if it reverted; returns the gas used. */
export function contractSender(client: PublicClient) {
  return async (who: Wallet, address: Address, abi: Abi, functionName: string, args: unknown[]) => {
    const { request } = await client.simulateContract({
      account: who.account,
      address,
      abi,
      functionName,
      args,
    } as never);
    const hash = await who.writeContract(request as never);
    const r = await client.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`${functionName} reverted`);
    return r.gasUsed;
  };
}

export async function startHarness(options: Partial<DeployOptions> = {}): Promise<Harness> {
  const chain = await startDevChain();
  const c = chainAt(chain.rpcUrl, chain.chainId);
  const client = publicClient(c);
  const w = Object.fromEntries(ROLES.map((r, i) => [r, wallet(c, chain.keys[i] as Hex)])) as Record<
    Role,
    Wallet
  >;
  const d = await deployContracts(client, w.owner, {
    ...DEFAULTS,
    settler: w.settler.account.address,
    ...options,
    // `firstEpoch: undefined` asks for the default (the deployment's epoch), not the tests' 1.
    firstEpoch: "firstEpoch" in options ? options.firstEpoch : DEFAULTS.firstEpoch,
  });
  const send = contractSender(client);
  const read = (address: Address, abi: Abi, functionName: string, args: unknown[] = []) =>
    client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;
  for (const r of ["streamer", "operator", "supporter", "attacker"] as const) {
    await send(w.owner, d.token, devTokenAbi, "mint", [w[r].account.address, parseEther("1000000")]);
    for (const spender of [d.pools, d.registry])
      await send(w[r], d.token, devTokenAbi, "approve", [spender, parseEther("1000000")]);
  }
  return {
    chain,
    client,
    d,
    w,
    send,
    read,
    balance: async (a) => (await read(d.token, devTokenAbi, "balanceOf", [a])) as bigint,
    async timeTravel(seconds) {
      await client.request({ method: "evm_increaseTime" as never, params: [seconds] as never });
      await client.request({ method: "evm_mine" as never, params: [] as never });
    },
    async createPool(stream, signingKey, budget, funding, streamer = w.streamer) {
      const signer = privateKeyToAccount(signingKey);
      const consent = await signPoolConsent(client, d.pools, signer, stream, streamer.account.address);
      await send(streamer, d.pools, rewardPoolsAbi, "createPool", [
        stream,
        signer.address,
        budget,
        consent.deadline,
        consent.signature,
      ]);
      const poolId = poolIdOf(stream, signer.address);
      if (funding > 0n) await send(streamer, d.pools, rewardPoolsAbi, "fund", [poolId, funding]);
      return poolId;
    },
    async register(operator, nodeKey, stake) {
      const node = privateKeyToAccount(nodeKey);
      const consent = await signNodeConsent(client, d.registry, node, operator.account.address);
      return send(operator, d.registry, nodeRegistryAbi, "register", [
        node.address,
        stake,
        consent.deadline,
        consent.signature,
      ]);
    },
    stop: () => chain.stop(),
  };
}
