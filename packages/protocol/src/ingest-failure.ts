import type { LocalAccount } from "viem";
import { z } from "zod";
import { AddressSchema, SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { CONTROL_PLANE_DOMAIN, signStatement, verifyStatement } from "./signed.ts";

const INGEST_FAILURE_TYPES = {
  IngestFailure: [
    { name: "streamId", type: "bytes32" },
    { name: "nodeId", type: "address" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

/**
 * The origin's signed word that an ingest relay stopped taking its pushes (it
 * was dropped from the push set), so the coordinator names another. Signed by
 * the stream's signing key: nobody else can get a stream's ingest relays swapped.
 */
export const IngestFailureSchema = z.strictObject({
  streamId: StreamIdSchema,
  nodeId: AddressSchema,
  issuedAt: z.number().int().nonnegative(),
  reason: z.string().max(200),
  signature: SignatureSchema,
});
export type IngestFailure = z.infer<typeof IngestFailureSchema>;

function typed(f: Pick<IngestFailure, "streamId" | "nodeId" | "issuedAt">) {
  return { streamId: streamIdToBytes32(f.streamId), nodeId: f.nodeId, issuedAt: BigInt(f.issuedAt) };
}

export async function signIngestFailure(
  signer: LocalAccount,
  f: Omit<IngestFailure, "signature">,
): Promise<IngestFailure> {
  return {
    ...f,
    signature: await signStatement(
      CONTROL_PLANE_DOMAIN,
      signer,
      INGEST_FAILURE_TYPES,
      "IngestFailure",
      typed(f),
    ),
  };
}

/** Throws BAD_SIGNATURE unless the stream's signing key signed this report. */
export async function verifyIngestFailure(f: IngestFailure, streamSigner: string): Promise<void> {
  await verifyStatement(
    CONTROL_PLANE_DOMAIN,
    INGEST_FAILURE_TYPES,
    "IngestFailure",
    typed(f),
    f.signature,
    streamSigner,
    "ingest failure",
  );
}
