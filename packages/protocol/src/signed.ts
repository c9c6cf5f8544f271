import { type Hex, type LocalAccount, recoverTypedDataAddress, type TypedData } from "viem";
import { EIP712_DOMAIN } from "./attestation.ts";
import { SrpError } from "./errors.ts";

/**
 * Signs and checks the small EIP-712 statements of the control plane
 * (registrations, stream end). Segment attestations have their own module
 * because they are on the hot path and carry bytes.
 */
export async function signStatement<T extends TypedData>(
  signer: LocalAccount,
  types: T,
  primaryType: keyof T & string,
  message: Record<string, unknown>,
): Promise<Hex> {
  // viem's generic typing of (types, primaryType, message) cannot follow a
  // generic T; the shapes are checked by each caller's zod schema.
  return signer.signTypedData({ domain: EIP712_DOMAIN, types, primaryType, message } as never);
}

export async function verifyStatement<T extends TypedData>(
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
      domain: EIP712_DOMAIN,
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
