import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Ed25519KeyPair,
  exportEd25519Private,
  generateEd25519,
  importEd25519Private,
} from "@streamrp2p/protocol";

/**
 * The coordinator's Ed25519 ticket-signing key, kept under the data dir so
 * tickets stay valid across restarts (":memory:" gets a fresh one).
 */
export async function loadTicketKey(dataDir: string): Promise<Ed25519KeyPair> {
  if (dataDir === ":memory:") return generateEd25519();
  const file = join(dataDir, "ticket.key");
  if (existsSync(file)) return importEd25519Private(readFileSync(file, "utf8").trim());
  const pair = await generateEd25519(true);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${await exportEd25519Private(pair.privateKey)}\n`, { mode: 0o600 });
  return pair;
}
