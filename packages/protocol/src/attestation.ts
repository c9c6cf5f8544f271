import { type Hex, type LocalAccount, recoverTypedDataAddress, sha256, zeroAddress } from "viem";
import { z } from "zod";
import { base64urlToBytes, bytesToBase64url, utf8 } from "./encoding.ts";
import { SrpError } from "./errors.ts";
import { AddressSchema, SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";

/**
 * Which deployment a segment attestation or a delivery signature belongs to:
 * the chain and the FraudProof contract that judges it (EIP-712 `chainId` and
 * `verifyingContract`). A signature made for one deployment (a testnet, a
 * second network) is worth nothing in another, on chain or off. Every party
 * takes it from its coordinator (`GET /v1/info`), which takes it from its
 * settlement deployment.
 */
export const SigningDomainSchema = z.strictObject({
  chainId: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  verifyingContract: AddressSchema,
});
export type SigningDomain = z.infer<typeof SigningDomainSchema>;

/** The domain of a network that settles on no chain (chain 0, the zero address): no contract accepts its signatures. */
export const OFF_CHAIN_DOMAIN: SigningDomain = { chainId: 0, verifyingContract: zeroAddress };

/** The EIP-712 domain of segment attestations and delivery signatures in `d` (FraudProof.sol computes the same). */
export function eip712Domain(d: SigningDomain) {
  return {
    name: "StreamrP2P",
    version: "2",
    chainId: d.chainId,
    verifyingContract: d.verifyingContract,
  } as const;
}

/**
 * The origin's signed statement about one segment. `byteLength` is signed too:
 * proof of restreaming caps a viewer's credit by attested sizes.
 */
export const SEGMENT_TYPES = {
  Segment: [
    { name: "streamId", type: "bytes32" },
    { name: "rendition", type: "string" },
    { name: "seq", type: "uint64" },
    { name: "initVersion", type: "uint64" },
    { name: "sha256", type: "bytes32" },
    { name: "byteLength", type: "uint32" },
    { name: "durationMs", type: "uint32" },
    { name: "producedAt", type: "uint64" },
  ],
} as const;

const MAX_UINT32 = 0xffff_ffff;

/** The attestation as it travels (JSON, in `x-srp-attestation` and window lists). */
export const SegmentAttestationSchema = z.strictObject({
  streamId: StreamIdSchema,
  rendition: z.string().min(1).max(32),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /**
   * The init segment this object plays with: for a media segment, the init it
   * needs; for an init, its own version (= seq). Signed, so no relay can
   * relabel a segment with another init.
   */
  initVersion: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(/^0x[0-9a-f]{64}$/, "sha256: 0x followed by 64 lowercase hex digits"),
  byteLength: z.number().int().nonnegative().max(MAX_UINT32),
  durationMs: z.number().int().nonnegative().max(MAX_UINT32),
  /** ms since the Unix epoch, when the origin finished the segment. */
  producedAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  signature: SignatureSchema,
});
export type SegmentAttestation = z.infer<typeof SegmentAttestationSchema>;
export type SegmentFacts = Omit<SegmentAttestation, "signature">;

/** SHA-256 as 0x-hex; pure JS so it runs in browsers too (hot paths use native hashing). */
export function sha256Hex(bytes: Uint8Array): Hex {
  return sha256(bytes);
}

/**
 * The EIP-712 message of a segment attestation. It is also the on-chain
 * `Segment` struct FraudProof.prove takes: the contract hashes that struct
 * with the same type hash, so one shape serves both.
 */
export function segmentMessage(facts: SegmentFacts) {
  return {
    streamId: streamIdToBytes32(facts.streamId),
    rendition: facts.rendition,
    seq: BigInt(facts.seq),
    initVersion: BigInt(facts.initVersion),
    sha256: facts.sha256 as Hex,
    byteLength: facts.byteLength,
    durationMs: facts.durationMs,
    producedAt: BigInt(facts.producedAt),
  };
}

/** Signs a segment's facts with the stream's signing key, for deployment `domain`. */
export async function signSegmentAttestation(
  signer: LocalAccount,
  domain: SigningDomain,
  facts: SegmentFacts,
): Promise<SegmentAttestation> {
  const signature = await signer.signTypedData({
    domain: eip712Domain(domain),
    types: SEGMENT_TYPES,
    primaryType: "Segment",
    message: segmentMessage(facts),
  });
  return { ...facts, signature };
}

/** The address that signed an attestation for deployment `domain` (lowercase). */
export async function recoverAttestationSigner(att: SegmentAttestation, domain: SigningDomain): Promise<Hex> {
  const { signature, ...facts } = att;
  const address = await recoverTypedDataAddress({
    domain: eip712Domain(domain),
    types: SEGMENT_TYPES,
    primaryType: "Segment",
    message: segmentMessage(facts),
    signature: signature as Hex,
  });
  return address.toLowerCase() as Hex;
}

/** Throws BAD_SIGNATURE unless `att` was signed by `expectedSigner` for deployment `domain`. */
export async function verifySegmentAttestation(
  att: SegmentAttestation,
  expectedSigner: string,
  domain: SigningDomain,
): Promise<void> {
  let signer: Hex;
  try {
    signer = await recoverAttestationSigner(att, domain);
  } catch (cause) {
    throw new SrpError("BAD_SIGNATURE", "attestation signature is malformed", { cause });
  }
  if (signer !== expectedSigner.toLowerCase()) {
    throw new SrpError("BAD_SIGNATURE", "attestation is not signed by the stream's signing key", {
      details: { seq: att.seq, rendition: att.rendition },
    });
  }
}

/** Throws HASH_MISMATCH unless `bytes` are exactly what `att` describes. */
export function checkSegmentBytes(att: Pick<SegmentFacts, "sha256" | "byteLength">, bytes: Uint8Array): void {
  if (bytes.byteLength !== att.byteLength) {
    throw new SrpError("HASH_MISMATCH", `segment is ${bytes.byteLength} bytes, attested ${att.byteLength}`);
  }
  if (sha256Hex(bytes) !== att.sha256) {
    throw new SrpError("HASH_MISMATCH", "segment SHA-256 differs from its attestation");
  }
}

export function encodeAttestationHeader(att: SegmentAttestation): string {
  return bytesToBase64url(utf8(JSON.stringify(att)));
}

/** Parses `x-srp-attestation`; throws VALIDATION_FAILED on anything malformed. */
export function decodeAttestationHeader(value: string | undefined): SegmentAttestation {
  if (value === undefined || value === "") {
    throw new SrpError("VALIDATION_FAILED", "missing x-srp-attestation header");
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(base64urlToBytes(value)));
  } catch (cause) {
    throw new SrpError("VALIDATION_FAILED", "x-srp-attestation is not base64url JSON", { cause });
  }
  const parsed = SegmentAttestationSchema.safeParse(json);
  if (!parsed.success) {
    throw new SrpError("VALIDATION_FAILED", `x-srp-attestation: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
