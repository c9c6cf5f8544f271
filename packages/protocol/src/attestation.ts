import { type Hex, type LocalAccount, recoverTypedDataAddress, sha256 } from "viem";
import { z } from "zod";
import { base64urlToBytes, bytesToBase64url, utf8 } from "./encoding.ts";
import { SrpError } from "./errors.ts";
import { SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";

/**
 * EIP-712 domain of every StreamrP2P signature. No chainId: attestations are
 * chain-independent; the fraud-proof contract recomputes this same separator.
 */
export const EIP712_DOMAIN = { name: "StreamrP2P", version: "1" } as const;

/**
 * The origin's signed statement about one segment. `byteLength` is signed too:
 * proof of restreaming caps a viewer's credit by attested sizes.
 */
export const SEGMENT_TYPES = {
  Segment: [
    { name: "streamId", type: "bytes32" },
    { name: "rendition", type: "string" },
    { name: "seq", type: "uint64" },
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
    sha256: facts.sha256 as Hex,
    byteLength: facts.byteLength,
    durationMs: facts.durationMs,
    producedAt: BigInt(facts.producedAt),
  };
}

/** Signs a segment's facts with the stream's signing key. */
export async function signSegmentAttestation(
  signer: LocalAccount,
  facts: SegmentFacts,
): Promise<SegmentAttestation> {
  const signature = await signer.signTypedData({
    domain: EIP712_DOMAIN,
    types: SEGMENT_TYPES,
    primaryType: "Segment",
    message: segmentMessage(facts),
  });
  return { ...facts, signature };
}

/** The address that signed an attestation (lowercase). */
export async function recoverAttestationSigner(att: SegmentAttestation): Promise<Hex> {
  const { signature, ...facts } = att;
  const address = await recoverTypedDataAddress({
    domain: EIP712_DOMAIN,
    types: SEGMENT_TYPES,
    primaryType: "Segment",
    message: segmentMessage(facts),
    signature: signature as Hex,
  });
  return address.toLowerCase() as Hex;
}

/** Throws BAD_SIGNATURE unless `att` was signed by `expectedSigner`. */
export async function verifySegmentAttestation(
  att: SegmentAttestation,
  expectedSigner: string,
): Promise<void> {
  let signer: Hex;
  try {
    signer = await recoverAttestationSigner(att);
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
export function checkSegmentBytes(att: SegmentFacts, bytes: Uint8Array): void {
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
