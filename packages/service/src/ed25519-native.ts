import { createPublicKey, type KeyObject, verify } from "node:crypto";

const keys = new Map<string, KeyObject>();
const MAX_KEYS = 100_000;

/**
 * Ed25519 verification with Node's native crypto (synchronous, no WebCrypto
 * promise overhead): what the coordinator uses for receipt batches.
 * `publicKey` and `signature` are base64url; false for anything malformed.
 */
export function verifyEd25519Native(publicKey: string, signature: string, data: Uint8Array): boolean {
  try {
    let key = keys.get(publicKey);
    if (!key) {
      if (keys.size >= MAX_KEYS) keys.clear();
      key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" });
      keys.set(publicKey, key);
    }
    return verify(null, data, key, Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}
