import { randomBytes } from "node:crypto";
import { type Ed25519KeyPair, signTicket, type Ticket } from "@streamrp2p/protocol";
import type { AccountingStore } from "./store.ts";
import { siteOf, subnetOf } from "./viewer-identity.ts";

export { siteOf, subnetOf } from "./viewer-identity.ts";

export interface SessionIssuer {
  /** Only where issued sessions are written: the simulator issues into its own table. */
  store: Pick<AccountingStore, "insertSession">;
  ticketKey: () => Ed25519KeyPair;
  now: () => number;
  ticketTtlMs: number;
}

/**
 * One code path for every ticket, a viewer's or the prober's: a relay cannot
 * tell them apart by anything it sees. Only the coordinator's own table knows
 * which sessions are probes (and never credits them). The row keeps the
 * viewer key, so a receipt's ticket is compared with what was issued.
 */
export async function issueSession(
  d: SessionIssuer,
  streamId: string,
  viewerKey: string,
  clientAddr: string,
  isProbe: boolean,
): Promise<Ticket> {
  const now = d.now();
  const ticket = await signTicket(d.ticketKey().privateKey, {
    sessionId: randomBytes(16).toString("hex"),
    streamId,
    viewerKey,
    issuedAt: now,
    expiresAt: now + d.ticketTtlMs,
  });
  await d.store.insertSession({
    sessionId: ticket.sessionId,
    streamId,
    viewerKey,
    clientAddr,
    subnet: subnetOf(clientAddr),
    site: siteOf(clientAddr),
    issuedAt: now,
    expiresAt: ticket.expiresAt,
    isProbe,
  });
  return ticket;
}
