import { type Hex, keccak256, toBytes } from "viem";
import { z } from "zod";

/** A stream's public name, as it appears in URLs: `/live/:streamId/...`. */
export const StreamIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "stream id: 1-63 chars of a-z, 0-9, '-', '_', starting alphanumeric");
export type StreamId = z.infer<typeof StreamIdSchema>;

/** An Ethereum address (node ids and signing keys are secp256k1 accounts). */
export const AddressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "address: 0x followed by 40 hex digits")
  .transform((a) => a.toLowerCase() as Hex);

export const Bytes32Schema = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, "bytes32: 0x followed by 64 lowercase hex digits");
export const SignatureSchema = z.string().regex(/^0x[0-9a-fA-F]{130}$/, "signature: 65-byte hex");

/** The on-chain identity of a stream: keccak256 of its name, so contracts need no strings. */
export function streamIdToBytes32(streamId: StreamId): Hex {
  return keccak256(toBytes(streamId));
}
