import { base64urlToBytes, bytesToBase64url } from "./encoding.ts";

/**
 * Ed25519 through WebCrypto, identical in browsers and Node >= 20: viewer
 * receipts and coordinator tickets are high-volume and never go on-chain.
 * Keys travel as base64url of the 32-byte raw public key.
 */
const ALG = { name: "Ed25519" } as const;
const imported = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 10_000;

export interface Ed25519KeyPair {
  /** base64url of the raw 32-byte public key */
  publicKey: string;
  privateKey: CryptoKey;
}

export async function generateEd25519(extractable = false): Promise<Ed25519KeyPair> {
  const pair = (await crypto.subtle.generateKey(ALG, extractable, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { publicKey: bytesToBase64url(raw), privateKey: pair.privateKey };
}

/** Stores a private key (PKCS#8, base64url) — the coordinator keeps its ticket key across restarts. */
export async function exportEd25519Private(key: CryptoKey): Promise<string> {
  return bytesToBase64url(new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

export async function importEd25519Private(pkcs8: string): Promise<Ed25519KeyPair> {
  const bytes = base64urlToBytes(pkcs8);
  const privateKey = await crypto.subtle.importKey("pkcs8", bytes, ALG, true, ["sign"]);
  // WebCrypto cannot derive a public key directly: go through JWK, whose `x` is the raw public key.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { publicKey: jwk.x as string, privateKey };
}

export async function ed25519Sign(privateKey: CryptoKey, data: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToBase64url(new Uint8Array(await crypto.subtle.sign(ALG, privateKey, data)));
}

function publicKeyOf(b64: string): Promise<CryptoKey> {
  let key = imported.get(b64);
  if (!key) {
    if (imported.size >= MAX_CACHED_KEYS) imported.clear();
    key = crypto.subtle.importKey("raw", base64urlToBytes(b64), ALG, false, ["verify"]);
    imported.set(b64, key);
  }
  return key;
}

/** False for a wrong signature or a malformed key/signature; never throws. */
export async function ed25519Verify(
  publicKey: string,
  signature: string,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  try {
    return await crypto.subtle.verify(ALG, await publicKeyOf(publicKey), base64urlToBytes(signature), data);
  } catch {
    imported.delete(publicKey);
    return false;
  }
}
