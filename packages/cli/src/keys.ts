import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Hex } from "viem";
import { generatePrivateKey } from "viem/accounts";

/** Reads a private key file (0x-hex), or creates one (mode 0600) when missing. Never prints the key. */
export function loadOrCreateKey(file: string): { key: Hex; created: boolean } {
  if (existsSync(file)) {
    const key = readFileSync(file, "utf8").trim();
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error(`${file} does not hold a 32-byte hex private key`);
    return { key: key as Hex, created: false };
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = generatePrivateKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, created: true };
}

/** A stream key as OBS shows it: URL-safe, long enough for SRT's passphrase rules. */
export function loadOrCreateStreamKey(file: string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dirname(file), { recursive: true });
  const key = `sk_${randomBytes(18).toString("base64url")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}
