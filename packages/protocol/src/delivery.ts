import type { LocalAccount } from "viem";
import { z } from "zod";
import { SegmentAttestationSchema } from "./attestation.ts";
import { AddressSchema, SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { signStatement, verifyStatement } from "./signed.ts";

/**
 * A relay's signature over what it served (`x-srp-node-sig`). Signed once per
 * object, not per request: a signature over a hash that contradicts the
 * origin's attestation for the same (stream, rendition, seq) is a fraud proof
 * that `ecrecover` checks on-chain.
 */
const DELIVERY_TYPES = {
  Delivery: [
    { name: "streamId", type: "bytes32" },
    { name: "rendition", type: "string" },
    { name: "seq", type: "uint64" },
    { name: "sha256", type: "bytes32" },
  ],
} as const;

export interface DeliveryFacts {
  streamId: string;
  rendition: string;
  seq: number;
  sha256: string;
}

function typed(f: DeliveryFacts) {
  return {
    streamId: streamIdToBytes32(f.streamId),
    rendition: f.rendition,
    seq: BigInt(f.seq),
    sha256: f.sha256,
  };
}

export function signDelivery(node: LocalAccount, f: DeliveryFacts): Promise<`0x${string}`> {
  return signStatement(node, DELIVERY_TYPES, "Delivery", typed(f));
}

export function verifyDelivery(f: DeliveryFacts, signature: string, nodeId: string): Promise<void> {
  return verifyStatement(DELIVERY_TYPES, "Delivery", typed(f), signature, nodeId, "delivery signature");
}

/** What a viewer reports when a node served bytes that contradict the origin's attestation. */
export const EvidenceSchema = z.strictObject({
  streamId: StreamIdSchema,
  nodeId: AddressSchema,
  attestation: SegmentAttestationSchema,
  servedSha256: z.string().regex(/^0x[0-9a-f]{64}$/),
  servedBytes: z.number().int().nonnegative(),
  /** The node's `x-srp-node-sig` over the served hash, when it sent one: makes the evidence a proof. */
  nodeSignature: SignatureSchema.nullable(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;
