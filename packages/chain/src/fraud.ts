import { type SegmentAttestation, streamIdToBytes32 } from "@streamrp2p/protocol";
import type { Hex } from "viem";

/** An origin attestation as FraudProof.prove takes it (the on-chain `Segment` struct). */
export function segmentStruct(att: SegmentAttestation) {
  return {
    streamId: streamIdToBytes32(att.streamId),
    rendition: att.rendition,
    seq: BigInt(att.seq),
    sha256: att.sha256 as Hex,
    byteLength: att.byteLength,
    durationMs: att.durationMs,
    producedAt: BigInt(att.producedAt),
  };
}
