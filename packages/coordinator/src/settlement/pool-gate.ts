import { poolIdOf } from "@streamrp2p/chain";
import { rewardPoolsAbi } from "@streamrp2p/contracts";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
import type { Address, Hex, PublicClient } from "viem";

/** The signing key the coordinator registered for a stream (undefined: not registered). */
export type RegisteredSigner = (streamId: string) => Promise<string | undefined>;

export type PoolChoice =
  | { ok: true; poolId: Hex; drawable: bigint }
  | { ok: false; reason: string; details: Record<string, unknown> };

const ZERO = /^0x0{40}$/;

/**
 * The one pool an epoch may draw from for a stream: the pool of (stream, the
 * signing key this coordinator registered). A pool anyone else created for the
 * stream under another key is never drawn from, and neither is a stream whose
 * on-chain fraud-proof key (bound by its first draw) is another key.
 */
export async function choosePool(
  client: PublicClient,
  pools: Address,
  streamId: string,
  registeredSigner: RegisteredSigner,
): Promise<PoolChoice> {
  const signer = await registeredSigner(streamId);
  if (!signer) return { ok: false, reason: "stream not registered with this coordinator", details: {} };
  const id = streamIdToBytes32(streamId);
  const poolId = poolIdOf(id, signer as Address);
  const [streamer] = (await client.readContract({
    address: pools,
    abi: rewardPoolsAbi,
    functionName: "pools",
    args: [poolId],
  })) as readonly [Address, ...unknown[]];
  if (ZERO.test(streamer)) {
    return { ok: false, reason: "no pool for the registered signing key", details: { signer, poolId } };
  }
  const bound = (await client.readContract({
    address: pools,
    abi: rewardPoolsAbi,
    functionName: "boundSigner",
    args: [id],
  })) as Address;
  if (!ZERO.test(bound) && bound.toLowerCase() !== signer.toLowerCase()) {
    return { ok: false, reason: "stream bound on-chain to another signing key", details: { signer, bound } };
  }
  const drawable = (await client.readContract({
    address: pools,
    abi: rewardPoolsAbi,
    functionName: "drawable",
    args: [poolId],
  })) as bigint;
  if (drawable === 0n) {
    return {
      ok: false,
      reason: "pool can pay nothing this epoch (budget or balance is 0)",
      details: { poolId },
    };
  }
  return { ok: true, poolId, drawable };
}

/**
 * postRoot's pool arguments: one entry per pool (amounts of a pool named twice
 * are added up) in strictly increasing pool id order, as the distributor
 * requires (`PoolsNotSorted` otherwise) so that a root draws from each pool
 * at most once.
 */
export function sortedPoolDraws(draws: Iterable<readonly [Hex, bigint]>): {
  poolIds: Hex[];
  amounts: bigint[];
} {
  const merged = new Map<bigint, bigint>();
  for (const [poolId, amount] of draws) {
    const key = BigInt(poolId);
    merged.set(key, (merged.get(key) ?? 0n) + amount);
  }
  const keys = [...merged.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    poolIds: keys.map((k): Hex => `0x${k.toString(16).padStart(64, "0")}`),
    amounts: keys.map((k) => merged.get(k) ?? 0n),
  };
}
