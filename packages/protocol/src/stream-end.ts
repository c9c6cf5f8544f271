import type { LocalAccount } from "viem";
import { z } from "zod";
import { SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { CONTROL_PLANE_DOMAIN, signStatement, verifyStatement } from "./signed.ts";

const STREAM_END_TYPES = {
  StreamEnd: [
    { name: "streamId", type: "bytes32" },
    { name: "lastSeq", type: "uint64" },
    { name: "lastAttestation", type: "bytes32" },
    { name: "producedAt", type: "uint64" },
  ],
} as const;

/** The origin's signed word that a broadcast ended after `lastSeq` (so relays append ENDLIST). */
export const StreamEndSchema = z.strictObject({
  streamId: StreamIdSchema,
  lastSeq: z.number().int().nonnegative(),
  /**
   * The attestation digest (attestationDigest) of segment `lastSeq`: the end applies to
   * that one segment of that one broadcast on that deployment, nothing else with its seq.
   */
  lastAttestation: z.string().regex(/^0x[0-9a-f]{64}$/, "lastAttestation: 0x and 64 lowercase hex digits"),
  producedAt: z.number().int().nonnegative(),
  signature: SignatureSchema,
});
export type StreamEnd = z.infer<typeof StreamEndSchema>;

function typed(end: Omit<StreamEnd, "signature">) {
  return {
    streamId: streamIdToBytes32(end.streamId),
    lastSeq: BigInt(end.lastSeq),
    lastAttestation: end.lastAttestation as `0x${string}`,
    producedAt: BigInt(end.producedAt),
  };
}

export async function signStreamEnd(
  signer: LocalAccount,
  end: Omit<StreamEnd, "signature">,
): Promise<StreamEnd> {
  return {
    ...end,
    signature: await signStatement(CONTROL_PLANE_DOMAIN, signer, STREAM_END_TYPES, "StreamEnd", typed(end)),
  };
}

export async function verifyStreamEnd(end: StreamEnd, expectedSigner: string): Promise<void> {
  await verifyStatement(
    CONTROL_PLANE_DOMAIN,
    STREAM_END_TYPES,
    "StreamEnd",
    typed(end),
    end.signature,
    expectedSigner,
    "stream end",
  );
}

/**
 * Rule: an end applies only to the broadcast it ends. Ends are public (every
 * window lists the last one), so an old end replayed while the stream is live
 * again (its edge past the end's last segment) must change nothing.
 */
export function streamEndApplies(end: Pick<StreamEnd, "lastSeq">, liveEdgeSeq: number): boolean {
  return end.lastSeq >= liveEdgeSeq;
}

/**
 * Rule: a relay ends a stream only when it holds the end's last segment (its
 * live edge is exactly `lastSeq`). An end from the future — one the streamer
 * signed for a later point, or on another network with the same key — must
 * not end a broadcast that has not got there.
 */
export function streamEndReached(end: Pick<StreamEnd, "lastSeq">, liveEdgeSeq: number): boolean {
  return end.lastSeq === liveEdgeSeq;
}

/**
 * Rule: an end names the very segment it ends after — the digest of the
 * attestation held for `lastSeq` (in this deployment). An end signed for the
 * same seq of another broadcast or another network names another digest.
 */
export function streamEndNames(end: Pick<StreamEnd, "lastAttestation">, lastSegmentDigest: string): boolean {
  return end.lastAttestation === lastSegmentDigest.toLowerCase();
}
