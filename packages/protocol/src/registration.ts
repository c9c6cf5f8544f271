import type { LocalAccount } from "viem";
import { z } from "zod";
import { AddressSchema, SignatureSchema, StreamIdSchema, streamIdToBytes32 } from "./ids.ts";
import { CONTROL_PLANE_DOMAIN, signStatement, verifyStatement } from "./signed.ts";

/** How far a signed registration's clock may be from the coordinator's. */
export const REGISTRATION_MAX_SKEW_MS = 5 * 60_000; // ms

const STREAM_REGISTRATION_TYPES = {
  StreamRegistration: [
    { name: "streamId", type: "bytes32" },
    { name: "signer", type: "address" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

/**
 * Every field of a node's registration is signed: a registration replayed or
 * altered in transit cannot change what the node offers. `capacityMbps` is
 * signed as its decimal text (JS number formatting, the same for every party).
 */
const NODE_REGISTRATION_TYPES = {
  NodeRegistration: [
    { name: "nodeId", type: "address" },
    { name: "url", type: "string" },
    { name: "region", type: "string" },
    { name: "capacityMbps", type: "string" },
    { name: "ingest", type: "bool" },
    { name: "streams", type: "string[]" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

function nodeRegistrationMessage(nodeId: string, f: Omit<NodeRegistration, "nodeId" | "signature">) {
  return {
    nodeId,
    url: f.url,
    region: f.region,
    capacityMbps: String(f.capacityMbps),
    ingest: f.ingest,
    streams: f.streams,
    issuedAt: BigInt(f.issuedAt),
  };
}

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
  const signature = await signStatement(
    CONTROL_PLANE_DOMAIN,
    signer,
    STREAM_REGISTRATION_TYPES,
    "StreamRegistration",
    message,
  );
  return { streamId, signer: signer.address.toLowerCase() as `0x${string}`, issuedAt, signature };
}

export async function verifyStreamRegistration(reg: StreamRegistration): Promise<void> {
  const message = {
    streamId: streamIdToBytes32(reg.streamId),
    signer: reg.signer,
    issuedAt: BigInt(reg.issuedAt),
  };
  await verifyStatement(
    CONTROL_PLANE_DOMAIN,
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
  const message = nodeRegistrationMessage(signer.address, fields);
  const signature = await signStatement(
    CONTROL_PLANE_DOMAIN,
    signer,
    NODE_REGISTRATION_TYPES,
    "NodeRegistration",
    message,
  );
  return { ...fields, nodeId: signer.address.toLowerCase() as `0x${string}`, signature };
}

/**
 * Rule: a registration replaces the one in force only if it was signed later.
 * A replayed registration (within the clock-skew window) would otherwise
 * rotate the node's token and cut it off.
 */
export function registrationSupersedes(inForceIssuedAt: number | undefined, issuedAt: number): boolean {
  return inForceIssuedAt === undefined || issuedAt > inForceIssuedAt;
}

export async function verifyNodeRegistration(reg: NodeRegistration): Promise<void> {
  const message = nodeRegistrationMessage(reg.nodeId, reg);
  await verifyStatement(
    CONTROL_PLANE_DOMAIN,
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
