import { type SegmentAttestation, type SigningDomain, segmentMessage } from "@streamrp2p/protocol";
import type { Deployment } from "./deploy.ts";

/** An origin attestation as FraudProof.prove takes it (the on-chain `Segment` struct). */
export function segmentStruct(att: SegmentAttestation) {
  return segmentMessage(att);
}

/**
 * The signing domain of a deployment: segment attestations and delivery
 * signatures its FraudProof accepts are signed for this chain and this
 * contract (the coordinator derives the same from its settlement config).
 */
export function deploymentDomain(chainId: number, deployment: Pick<Deployment, "fraudProof">): SigningDomain {
  return { chainId, verifyingContract: deployment.fraudProof };
}
