import { type Hex, hashTypedData, type LocalAccount, recoverTypedDataAddress } from "viem";
import { z } from "zod";
import { eip712Domain, type SigningDomain } from "./attestation.ts";
import { base64urlToBytes, bytesToBase64url, utf8 } from "./encoding.ts";
import { SrpError } from "./errors.ts";
import { SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { RENDITION_MAIN } from "./wire.ts";

/**
 * The origin's signed statement about one Low-Latency HLS part: a slice of
 * the segment `seq` still being produced (`part` counts from 0 within it).
 * Its own EIP-712 type, so a part's signature never verifies as a segment's
 * (or the reverse): a relay cannot pass a part off as a whole segment.
 * `partTargetMs` is how the origin announces the part target every relay
 * puts in EXT-X-PART-INF: signed, so no hop can change what players are told.
 */
export const PART_TYPES = {
  Part: [
    { name: "streamId", type: "bytes32" },
    { name: "rendition", type: "string" },
    { name: "seq", type: "uint64" },
    { name: "part", type: "uint32" },
    { name: "initVersion", type: "uint64" },
    { name: "sha256", type: "bytes32" },
    { name: "byteLength", type: "uint32" },
    { name: "durationMs", type: "uint32" },
    { name: "independent", type: "bool" },
    { name: "partTargetMs", type: "uint32" },
    { name: "producedAt", type: "uint64" },
  ],
} as const;

/** Parts one segment may have: bounds every per-segment list on every hop. */
export const MAX_PARTS_PER_SEGMENT = 64;
/** The part target an origin may announce (ms): below it HTTP overhead dominates, above it LL-HLS is pointless. */
export const MIN_PART_TARGET_MS = 50;
export const MAX_PART_TARGET_MS = 5_000;

const MAX_UINT32 = 0xffff_ffff;

export const PartAttestationSchema = z.strictObject({
  streamId: StreamIdSchema,
  rendition: z.string().min(1).max(32),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  part: z
    .number()
    .int()
    .nonnegative()
    .max(MAX_PARTS_PER_SEGMENT - 1),
  initVersion: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(/^0x[0-9a-f]{64}$/, "sha256: 0x followed by 64 lowercase hex digits"),
  byteLength: z.number().int().positive().max(MAX_UINT32),
  durationMs: z.number().int().nonnegative().max(MAX_UINT32),
  /** The part starts with a keyframe (EXT-X-PART INDEPENDENT=YES). */
  independent: z.boolean(),
  partTargetMs: z.number().int().min(MIN_PART_TARGET_MS).max(MAX_PART_TARGET_MS),
  /** ms since the Unix epoch, when the origin finished the part. */
  producedAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  signature: SignatureSchema,
});
export type PartAttestation = z.infer<typeof PartAttestationSchema>;
export type PartFacts = Omit<PartAttestation, "signature">;

function partMessage(f: PartFacts) {
  return {
    streamId: streamIdToBytes32(f.streamId),
    rendition: f.rendition,
    seq: BigInt(f.seq),
    part: f.part,
    initVersion: BigInt(f.initVersion),
    sha256: f.sha256 as Hex,
    byteLength: f.byteLength,
    durationMs: f.durationMs,
    independent: f.independent,
    partTargetMs: f.partTargetMs,
    producedAt: BigInt(f.producedAt),
  };
}

/** The EIP-712 digest of everything a part attestation signs, its deployment included. */
export function partAttestationDigest(facts: PartFacts, domain: SigningDomain): Hex {
  return hashTypedData({
    domain: eip712Domain(domain),
    types: PART_TYPES,
    primaryType: "Part",
    message: partMessage(facts),
  });
}

/** Signs a part's facts with the stream's signing key, for deployment `domain`. */
export async function signPartAttestation(
  signer: LocalAccount,
  domain: SigningDomain,
  facts: PartFacts,
): Promise<PartAttestation> {
  const signature = await signer.signTypedData({
    domain: eip712Domain(domain),
    types: PART_TYPES,
    primaryType: "Part",
    message: partMessage(facts),
  });
  return { ...facts, signature };
}

/** Throws BAD_SIGNATURE unless `att` was signed by `expectedSigner` for deployment `domain`. */
export async function verifyPartAttestation(
  att: PartAttestation,
  expectedSigner: string,
  domain: SigningDomain,
): Promise<void> {
  const { signature, ...facts } = att;
  let signer: string;
  try {
    signer = await recoverTypedDataAddress({
      domain: eip712Domain(domain),
      types: PART_TYPES,
      primaryType: "Part",
      message: partMessage(facts),
      signature: signature as Hex,
    });
  } catch (cause) {
    throw new SrpError("BAD_SIGNATURE", "part attestation signature is malformed", { cause });
  }
  if (signer.toLowerCase() !== expectedSigner.toLowerCase()) {
    throw new SrpError("BAD_SIGNATURE", "part attestation is not signed by the stream's signing key", {
      details: { seq: att.seq, part: att.part },
    });
  }
}

/**
 * Rule: "this part attestation is the one for this path": it names exactly
 * this stream, the main rendition, the parent segment and the part index the
 * file name says. Without it a relay could answer part 3 with part 2's signed
 * bytes, or one stream's part with another's. Throws ATTESTATION_MISMATCH.
 */
export function checkPartAttestationFor(att: PartFacts, streamId: string, seq: number, part: number): void {
  if (att.streamId !== streamId || att.rendition !== RENDITION_MAIN || att.seq !== seq || att.part !== part) {
    throw new SrpError(
      "ATTESTATION_MISMATCH",
      `part attestation is for ${att.streamId}/${att.rendition}/${att.seq}.${att.part}, not ${streamId}/${RENDITION_MAIN}/${seq}.${part}`,
    );
  }
}

export function encodePartAttestationHeader(att: PartAttestation): string {
  return bytesToBase64url(utf8(JSON.stringify(att)));
}

/** Parses `x-srp-part`; throws VALIDATION_FAILED on anything malformed. */
export function decodePartAttestationHeader(value: string | undefined): PartAttestation {
  if (value === undefined || value === "") {
    throw new SrpError("VALIDATION_FAILED", "missing part attestation header");
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(base64urlToBytes(value)));
  } catch (cause) {
    throw new SrpError("VALIDATION_FAILED", "part attestation header is not base64url JSON", { cause });
  }
  const parsed = PartAttestationSchema.safeParse(json);
  if (!parsed.success) {
    throw new SrpError("VALIDATION_FAILED", `part attestation: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
