import { randomBytes } from "node:crypto";
import { isIPv4 } from "node:net";
import { type Ed25519KeyPair, signTicket, type Ticket } from "@streamrp2p/protocol";
import type { AccountingStore } from "./store.ts";

/** The /24 of an IPv4 address or the /48 of an IPv6 one: what one operator of fake viewers usually shares. */
export function subnetOf(addr: string): string {
  const v4 = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
  if (isIPv4(v4)) return `${v4.split(".").slice(0, 3).join(".")}.0/24`;
  const groups = addr.split(":");
  return `${groups.slice(0, 3).join(":")}::/48`;
}

export interface SessionIssuer {
  store: AccountingStore;
  ticketKey: () => Ed25519KeyPair;
  now: () => number;
  ticketTtlMs: number;
}

/**
 * One code path for every ticket, a viewer's or the prober's: a relay cannot
 * tell them apart by anything it sees. Only the coordinator's own table knows
 * which sessions are probes (and never credits them).
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
    clientAddr,
    subnet: subnetOf(clientAddr),
    issuedAt: now,
    expiresAt: ticket.expiresAt,
    isProbe,
  });
  return ticket;
}
