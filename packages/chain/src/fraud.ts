import { type SegmentAttestation, segmentMessage } from "@streamrp2p/protocol";

/** An origin attestation as FraudProof.prove takes it (the on-chain `Segment` struct). */
export function segmentStruct(att: SegmentAttestation) {
  return segmentMessage(att);
}
