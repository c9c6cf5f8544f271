import { concatHex, type Hex, hashTypedData, keccak256 } from "viem";
import {
  eip712Domain,
  SEGMENT_TYPES,
  type SegmentAttestation,
  type SegmentFacts,
  type SigningDomain,
  segmentMessage,
  verifySegmentAttestation,
} from "./attestation.ts";
import { SrpError } from "./errors.ts";
import { type PartAttestation, partAttestationDigest, verifyPartAttestation } from "./part-attestation.ts";
import { renditionName, SOURCE_RUNG } from "./rendition.ts";
import { parseMediaFileName } from "./wire.ts";

/**
 * The trust rules for segment attestations, one function each, used by the
 * origin, every relay, the player and the coordinator alike. The copies these
 * replace are where the bypasses lived.
 */

/** The EIP-712 digest of everything an attestation signs, its deployment included: what a signature is over. */
export function attestationDigest(facts: SegmentFacts, domain: SigningDomain): Hex {
  return hashTypedData({
    domain: eip712Domain(domain),
    types: SEGMENT_TYPES,
    primaryType: "Segment",
    message: segmentMessage(facts),
  });
}

export interface AttestedObject {
  kind: "init" | "segment";
  /** The init version for an init, the media sequence number for a segment. */
  seq: number;
  /** The ladder rung the object was asked for under (its path); default the source. */
  rung?: string;
}

/**
 * Rule: "this attestation is the one for this path". The attestation must name
 * exactly the stream, the rendition (the rung the path is under) and the
 * number the file name says, or a relay could answer one request with
 * another object's signed bytes, or one rung's segment with another's.
 * Throws NOT_FOUND for a file that is no init or segment, ATTESTATION_MISMATCH otherwise.
 */
export function checkAttestationForFile(
  att: SegmentFacts,
  streamId: string,
  file: string,
  rung: string = SOURCE_RUNG,
): AttestedObject {
  const parsed = parseMediaFileName(file);
  if (!parsed || (parsed.kind !== "init" && parsed.kind !== "segment")) {
    throw new SrpError("NOT_FOUND", `${file} is not an init or media segment`);
  }
  const object: AttestedObject =
    parsed.kind === "init"
      ? { kind: "init", seq: parsed.version, rung }
      : { kind: "segment", seq: parsed.seq, rung };
  checkAttestationFor(att, streamId, object);
  return object;
}

/**
 * Rule: the attestation names this stream and this object (see
 * checkAttestationForFile), under the rung it was asked for; an init names
 * itself as its init version.
 */
export function checkAttestationFor(att: SegmentFacts, streamId: string, object: AttestedObject): void {
  const rendition = renditionName(object.rung ?? SOURCE_RUNG, object.kind);
  if (att.streamId !== streamId || att.rendition !== rendition || att.seq !== object.seq) {
    throw new SrpError(
      "ATTESTATION_MISMATCH",
      `attestation is for ${att.streamId}/${att.rendition}/${att.seq}, not ${streamId}/${rendition}/${object.seq}`,
    );
  }
  if (object.kind === "init" && att.initVersion !== att.seq) {
    throw new SrpError(
      "ATTESTATION_MISMATCH",
      `init ${att.seq} attested with init version ${att.initVersion}`,
    );
  }
}

/**
 * Rule: a media segment plays with the init its attestation names, whatever a
 * header, a window or a playlist claims. Throws ATTESTATION_MISMATCH when
 * `claimed` (what the sender said) differs: the sender relabelled it.
 */
export function checkInitVersion(att: SegmentFacts, claimed: number): void {
  if (att.initVersion !== claimed) {
    throw new SrpError(
      "ATTESTATION_MISMATCH",
      `segment ${att.seq} is attested with init ${att.initVersion}, sent as init ${claimed}`,
    );
  }
}

const DEFAULT_CACHE_ENTRIES = 4_096;

/**
 * Rule: "this attestation is signed by the stream's key", with the expensive
 * signature recovery remembered. The cache key is the digest of everything
 * signed, the signature and the expected signer together: an attestation that
 * differs in any signed field (its sha256, its length, its seq ...) from one
 * verified before is a new entry and is verified afresh. A bounded LRU. One
 * verifier serves one deployment (`domain`, or where to learn it): its
 * digests include it.
 */
export class AttestationVerifier {
  readonly #verified = new Map<Hex, true>();
  readonly #maxEntries: number;
  readonly #domain: () => Promise<SigningDomain>;

  constructor(domain: SigningDomain | (() => Promise<SigningDomain>), maxEntries = DEFAULT_CACHE_ENTRIES) {
    this.#domain = typeof domain === "function" ? domain : () => Promise.resolve(domain);
    this.#maxEntries = maxEntries;
  }

  /** Throws BAD_SIGNATURE unless `att` was signed by `expectedSigner`. */
  async verify(att: SegmentAttestation, expectedSigner: string): Promise<void> {
    const domain = await this.#domain();
    const key = this.#key(attestationDigest(att, domain), att.signature, expectedSigner);
    if (this.#hit(key)) return;
    await verifySegmentAttestation(att, expectedSigner, domain);
    this.#remember(key);
  }

  /**
   * Throws BAD_SIGNATURE unless the part attestation `att` was signed by
   * `expectedSigner`. Cached by the digest of the Part type: never the same
   * key as a segment's, so one verified kind never vouches for the other.
   */
  async verifyPart(att: PartAttestation, expectedSigner: string): Promise<void> {
    const domain = await this.#domain();
    const key = this.#key(partAttestationDigest(att, domain), att.signature, expectedSigner);
    if (this.#hit(key)) return;
    await verifyPartAttestation(att, expectedSigner, domain);
    this.#remember(key);
  }

  #key(digest: Hex, signature: string, expectedSigner: string): Hex {
    return keccak256(concatHex([digest, signature as Hex, expectedSigner.toLowerCase() as Hex]));
  }

  #hit(key: Hex): boolean {
    if (!this.#verified.has(key)) return false;
    // Refresh recency: the live window is what gets re-checked.
    this.#verified.delete(key);
    this.#verified.set(key, true);
    return true;
  }

  #remember(key: Hex): void {
    this.#verified.set(key, true);
    if (this.#verified.size > this.#maxEntries) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
  }

  get size(): number {
    return this.#verified.size;
  }
}
