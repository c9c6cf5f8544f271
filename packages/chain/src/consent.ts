import { nodeRegistryAbi } from "@streamrp2p/contracts";
import {
  type Address,
  encodeAbiParameters,
  type Hex,
  keccak256,
  type LocalAccount,
  type PublicClient,
} from "viem";

/**
 * EIP-712 consents the contracts check before they bind a key to someone else:
 * a node key lets one operator register it; a stream's signing key lets one
 * streamer create its reward pool. The domain names the contract and chain, so
 * a consent is good for that deployment only.
 */

/** Seconds a consent stays valid by default: long enough to send it, short enough not to linger. */
export const CONSENT_TTL_SECONDS = 3_600n; // s

export interface Consent {
  deadline: bigint;
  signature: Hex;
}

/** The id of the pool of (stream, signing key): as RewardPools.poolIdOf computes it. */
export function poolIdOf(streamId: Hex, signer: Address): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [streamId, signer]));
}

async function deadlineFrom(client: PublicClient, ttl: bigint): Promise<bigint> {
  // The chain's clock, not ours: the contract compares the deadline with block.timestamp.
  const block = await client.getBlock();
  return block.timestamp + ttl;
}

/** The node key's consent that `operator` registers it on `registry` (uses the node's next nonce). */
export async function signNodeConsent(
  client: PublicClient,
  registry: Address,
  node: LocalAccount,
  operator: Address,
  ttl: bigint = CONSENT_TTL_SECONDS,
): Promise<Consent> {
  const [nonce, chainId, deadline] = await Promise.all([
    client.readContract({
      address: registry,
      abi: nodeRegistryAbi,
      functionName: "nonces",
      args: [node.address],
    }),
    client.getChainId(),
    deadlineFrom(client, ttl),
  ]);
  const signature = await node.signTypedData({
    domain: { name: "StreamrP2P NodeRegistry", version: "1", chainId, verifyingContract: registry },
    types: {
      NodeConsent: [
        { name: "node", type: "address" },
        { name: "operator", type: "address" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "NodeConsent",
    message: { node: node.address, operator, nonce, deadline },
  });
  return { deadline, signature };
}

/** The signing key's consent that `streamer` creates the pool of `streamId` (bytes32) for it. */
export async function signPoolConsent(
  client: PublicClient,
  pools: Address,
  signer: LocalAccount,
  streamId: Hex,
  streamer: Address,
  ttl: bigint = CONSENT_TTL_SECONDS,
): Promise<Consent> {
  const [chainId, deadline] = await Promise.all([client.getChainId(), deadlineFrom(client, ttl)]);
  const signature = await signer.signTypedData({
    domain: { name: "StreamrP2P RewardPools", version: "1", chainId, verifyingContract: pools },
    types: {
      PoolConsent: [
        { name: "streamId", type: "bytes32" },
        { name: "streamer", type: "address" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "PoolConsent",
    message: { streamId, streamer, deadline },
  });
  return { deadline, signature };
}
