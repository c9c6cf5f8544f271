import type { LocalAccount } from "viem";
import { z } from "zod";
import { AddressSchema, SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { signStatement, verifyStatement } from "./signed.ts";

/** How far a signed registration's clock may be from the coordinator's. */
export const REGISTRATION_MAX_SKEW_MS = 5 * 60_000; // ms

const STREAM_REGISTRATION_TYPES = {
  StreamRegistration: [
    { name: "streamId", type: "bytes32" },
    { name: "signer", type: "address" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

const NODE_REGISTRATION_TYPES = {
  NodeRegistration: [
    { name: "nodeId", type: "address" },
    { name: "url", type: "string" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

/** A streamer claims a stream id for its signing key; the first claim wins, later ones must match. */
export const StreamRegistrationSchema = z.strictObject({
  streamId: StreamIdSchema,
  signer: AddressSchema,
  issuedAt: z.number().int().nonnegative(),
  signature: SignatureSchema,
});
export type StreamRegistration = z.infer<typeof StreamRegistrationSchema>;

export const RegionSchema = z.string().regex(/^[a-z0-9-]{1,32}$/, "region: 1-32 chars of a-z, 0-9, '-'");

/** A relay announces itself; `nodeId` is its secp256k1 address and it signs the claim. */
export const NodeRegistrationSchema = z.strictObject({
  nodeId: AddressSchema,
  url: z.url({ protocol: /^https?$/ }).max(512),
  region: RegionSchema,
  /** Egress the operator offers, in Mbit/s. */
  capacityMbps: z.number().positive().max(1_000_000),
  /** Accepts pushes from origins (an ingest relay). */
  ingest: z.boolean(),
  /** What this node restreams: stream ids or streamers' (lowercase) signer addresses; empty means whatever the network needs. */
  streams: z.array(StreamIdSchema).max(1000),
  issuedAt: z.number().int().nonnegative(),
  signature: SignatureSchema,
});
export type NodeRegistration = z.infer<typeof NodeRegistrationSchema>;

export async function signStreamRegistration(
  signer: LocalAccount,
  streamId: string,
  issuedAt: number,
): Promise<StreamRegistration> {
  const message = {
    streamId: streamIdToBytes32(streamId),
    signer: signer.address,
    issuedAt: BigInt(issuedAt),
  };
  const signature = await signStatement(signer, STREAM_REGISTRATION_TYPES, "StreamRegistration", message);
  return { streamId, signer: signer.address.toLowerCase() as `0x${string}`, issuedAt, signature };
}

export async function verifyStreamRegistration(reg: StreamRegistration): Promise<void> {
  const message = {
    streamId: streamIdToBytes32(reg.streamId),
    signer: reg.signer,
    issuedAt: BigInt(reg.issuedAt),
  };
  await verifyStatement(
    STREAM_REGISTRATION_TYPES,
    "StreamRegistration",
    message,
    reg.signature,
    reg.signer,
    "stream registration",
  );
}

export async function signNodeRegistration(
  signer: LocalAccount,
  fields: Omit<NodeRegistration, "nodeId" | "signature">,
): Promise<NodeRegistration> {
  const message = { nodeId: signer.address, url: fields.url, issuedAt: BigInt(fields.issuedAt) };
  const signature = await signStatement(signer, NODE_REGISTRATION_TYPES, "NodeRegistration", message);
  return { ...fields, nodeId: signer.address.toLowerCase() as `0x${string}`, signature };
}

export async function verifyNodeRegistration(reg: NodeRegistration): Promise<void> {
  const message = { nodeId: reg.nodeId, url: reg.url, issuedAt: BigInt(reg.issuedAt) };
  await verifyStatement(
    NODE_REGISTRATION_TYPES,
    "NodeRegistration",
    message,
    reg.signature,
    reg.nodeId,
    "node registration",
  );
}

/**
 * Whether a node's support list (stream ids or streamers' signer addresses;
 * empty: anything) covers a stream. The coordinator routes by it and the
 * relay checks it again before pulling.
 */
export function supportsStream(support: readonly string[], streamId: string, signer: string): boolean {
  return support.length === 0 || support.includes(streamId) || support.includes(signer.toLowerCase());
}
