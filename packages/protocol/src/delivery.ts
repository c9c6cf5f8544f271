import type { Hex, LocalAccount } from "viem";
import { z } from "zod";
import {
  eip712Domain,
  SegmentAttestationSchema,
  type SegmentFacts,
  type SigningDomain,
} from "./attestation.ts";
import { attestationDigest } from "./attestation-rules.ts";
import { SrpError } from "./errors.ts";
import { AddressSchema, SignatureSchema, StreamIdSchema } from "./ids.ts";
import { signStatement, verifyStatement } from "./signed.ts";

/**
 * A relay's signature over what it served (`x-srp-node-sig`), signed once per
 * object: the EIP-712 digest of the exact attestation it verified and relied
 * on (attestationDigest), and the SHA-256 of the bytes it serves. Binding the
 * attestation, not just (stream, rendition, seq), is what keeps an honest
 * node safe when two attestations exist for one seq (an origin restart, or a
 * streamer signing twice on purpose): its signature speaks only about the one
 * it named. A node is guilty only of contradicting that same attestation.
 * FraudProof.sol checks the same statement with ecrecover.
 */
export const DELIVERY_TYPES = {
  Delivery: [
    { name: "attestation", type: "bytes32" },
    { name: "servedSha256", type: "bytes32" },
  ],
} as const;

const message = (att: SegmentFacts, servedSha256: string, domain: SigningDomain) => ({
  attestation: attestationDigest(att, domain),
  servedSha256: servedSha256 as Hex,
});

/** Signs Delivery(attestationDigest(att), servedSha256) with the node's key, in deployment `domain`. */
export function signDelivery(
  node: LocalAccount,
  domain: SigningDomain,
  att: SegmentFacts,
  servedSha256: string,
): Promise<Hex> {
  return signStatement(
    eip712Domain(domain),
    node,
    DELIVERY_TYPES,
    "Delivery",
    message(att, servedSha256, domain),
  );
}

/**
 * Rule: "`nodeId` said it served `servedSha256` relying on exactly `att`".
 * Throws BAD_SIGNATURE otherwise (another attestation, another hash, another key).
 */
export function verifyDelivery(
  domain: SigningDomain,
  att: SegmentFacts,
  servedSha256: string,
  signature: string,
  nodeId: string,
): Promise<void> {
  return verifyStatement(
    eip712Domain(domain),
    DELIVERY_TYPES,
    "Delivery",
    message(att, servedSha256, domain),
    signature,
    nodeId,
    "delivery signature",
  );
}

/**
 * Rule: "this is a fraud proof" — the node's own delivery signature names
 * `att` and a served hash other than `att.sha256`. The same definition as
 * FraudProof.prove; whether `att` is the streamer's is checked separately
 * (verifySegmentAttestation), as the contract checks the bound stream key.
 * Throws VALIDATION_FAILED for equal hashes, BAD_SIGNATURE for a signature
 * that does not say exactly this.
 */
export async function verifyFraudProof(
  domain: SigningDomain,
  att: SegmentFacts,
  servedSha256: string,
  nodeSignature: string,
  nodeId: string,
): Promise<void> {
  if (servedSha256 === att.sha256)
    throw new SrpError("VALIDATION_FAILED", "served hash equals the attested one: no fraud");
  await verifyDelivery(domain, att, servedSha256, nodeSignature, nodeId);
}

/** What a viewer reports when a node served bytes that contradict the origin's attestation. */
export const EvidenceSchema = z.strictObject({
  streamId: StreamIdSchema,
  nodeId: AddressSchema,
  /** The attestation the node served the bytes under (its x-srp-attestation). */
  attestation: SegmentAttestationSchema,
  servedSha256: z.string().regex(/^0x[0-9a-f]{64}$/),
  servedBytes: z.number().int().nonnegative(),
  /** The node's `x-srp-node-sig` over (that attestation, the served hash), when it sent one: makes the evidence a proof. */
  nodeSignature: SignatureSchema.nullable(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;
