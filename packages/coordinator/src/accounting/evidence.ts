import {
  type Evidence,
  type SigningDomain,
  SrpError,
  verifyFraudProof,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import type { CoordinatorStore, StreamRow } from "../store.ts";

/**
 * Checks and stores a report that a node served bytes contradicting the
 * origin's attestation. With the node's own delivery signature over the bad
 * hash it is a proof (what the settlement contract can slash on).
 */
export async function recordEvidence(
  store: CoordinatorStore,
  domain: SigningDomain,
  stream: StreamRow,
  e: Evidence,
  now: number,
): Promise<{ proven: boolean }> {
  const att = e.attestation;
  if (att.streamId !== e.streamId || stream.streamId !== e.streamId)
    throw new SrpError("VALIDATION_FAILED", "attestation is for another stream");
  // Only the origin's signature makes the attested hash the truth.
  await verifySegmentAttestation(att, stream.signer, domain);
  if (e.servedSha256 === att.sha256)
    throw new SrpError("VALIDATION_FAILED", "served hash equals the attested one: nothing to report");
  // A proof is the node's own signature over (this attestation's digest, the served hash): the
  // rule FraudProof.prove enforces. A signature that says anything else (another attestation,
  // the attested hash) proves nothing, and the report stays unproven rather than being refused:
  // a lying node may well sign the honest hash while serving other bytes.
  let proven = false;
  if (e.nodeSignature) {
    proven = await verifyFraudProof(domain, att, e.servedSha256, e.nodeSignature, e.nodeId).then(
      () => true,
      () => false,
    );
  }
  await store.insertEvidence({
    nodeId: e.nodeId,
    streamId: e.streamId,
    rendition: att.rendition,
    seq: att.seq,
    attestedSha256: att.sha256,
    servedSha256: e.servedSha256,
    nodeSignature: e.nodeSignature,
    proven,
    attestation: JSON.stringify(att),
    reportedAt: now,
  });
  return { proven };
}
