import {
  type Hex,
  type LocalAccount,
  recoverTypedDataAddress,
  type TypedData,
  type TypedDataDomain,
} from "viem";
import { SrpError } from "./errors.ts";

/**
 * The EIP-712 domain of control-plane statements (registrations, stream end,
 * ingest failures): they go to one coordinator, not to a chain, carry their
 * own time and are judged by rules that bound a replay (registration skew,
 * streamEndApplies). Segment attestations and delivery signatures, which
 * contracts judge, are bound to a deployment instead (eip712Domain).
 */
export const CONTROL_PLANE_DOMAIN = { name: "StreamrP2P", version: "1" } as const;

/**
 * Signs and checks small EIP-712 statements in `domain`. Segment attestations
 * have their own module because they are on the hot path and carry bytes.
 */
export async function signStatement<T extends TypedData>(
  domain: TypedDataDomain,
  signer: LocalAccount,
  types: T,
  primaryType: keyof T & string,
  message: Record<string, unknown>,
): Promise<Hex> {
  // viem's generic typing of (types, primaryType, message) cannot follow a
  // generic T; the shapes are checked by each caller's zod schema.
  return signer.signTypedData({ domain, types, primaryType, message } as never);
}

export async function verifyStatement<T extends TypedData>(
  domain: TypedDataDomain,
  types: T,
  primaryType: keyof T & string,
  message: Record<string, unknown>,
  signature: string,
  expectedSigner: string,
  what: string,
): Promise<void> {
  let signer: string;
  try {
    signer = await recoverTypedDataAddress({
      domain,
      types,
      primaryType,
      message,
      signature: signature as Hex,
    } as never);
  } catch (cause) {
    throw new SrpError("BAD_SIGNATURE", `${what}: signature is malformed`, { cause });
  }
  if (signer.toLowerCase() !== expectedSigner.toLowerCase()) {
    throw new SrpError("BAD_SIGNATURE", `${what}: not signed by ${expectedSigner}`);
  }
}
