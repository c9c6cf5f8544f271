import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type Ed25519KeyPair,
  exportEd25519Private,
  generateEd25519,
  importEd25519Private,
} from "@streamrp2p/protocol";

/**
 * The coordinator's Ed25519 ticket-signing key, kept under the data dir so
 * tickets stay valid across restarts (":memory:" gets a fresh one). Replicas
 * on one database must sign with one key (a ticket from one is redeemed at
 * another): they are given the same `file`, provisioned like a TLS key. It is
 * deliberately not kept in the database, where a leaked dump would let anyone
 * mint tickets and so receipts.
 */
export async function loadTicketKey(dataDir: string, keyFile = ""): Promise<Ed25519KeyPair> {
  if (dataDir === ":memory:" && !keyFile) return generateEd25519();
  const file = keyFile || join(dataDir, "ticket.key");
  if (existsSync(file)) return importEd25519Private(readFileSync(file, "utf8").trim());
  const pair = await generateEd25519(true);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${await exportEd25519Private(pair.privateKey)}\n`, { mode: 0o600 });
  return pair;
}
