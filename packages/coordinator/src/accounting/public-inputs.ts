import { createHmac } from "node:crypto";
import type { ReceiptRow, SessionRow } from "./store.ts";

/**
 * Subnet identifiers for one epoch's published inputs. A plain or salted
 * hash of a /24 is no protection: there are only 2^24 IPv4 /24s, so anyone
 * can hash them all in seconds, salt or not, once the salt is published.
 * So the identifier is an HMAC under a key derived from a coordinator secret
 * that is never published, and the key changes every epoch: within an epoch
 * equal subnets get equal identifiers (all that recomputing the caps and
 * flags needs), across epochs a viewer's subnet cannot be followed.
 */
export function subnetHasher(secret: string, epoch: number): (subnet: string) => string {
  const key = createHmac("sha256", Buffer.from(secret, "hex")).update(`srp-subnet-v1|${epoch}`).digest();
  return (subnet) => createHmac("sha256", key).update(subnet).digest("hex").slice(0, 32);
}

/**
 * A session as published and as computed on: no client address, no viewer
 * key, its subnet and site hashed. The site is hashed in its own domain: an
 * IPv4 session's site is its subnet, so equal identifiers would publish which
 * sessions are IPv4 and which IPv6.
 */
export function publicSession(s: SessionRow, hash: (subnet: string) => string): SessionRow {
  return { ...s, viewerKey: null, clientAddr: "", subnet: hash(s.subnet), site: hash(`site|${s.site}`) };
}

/**
 * A receipt as published: the fields credit is computed from. Not the
 * signatures, nor the ticket: they would let anyone link sessions to viewer
 * keys, and a ticket signature is the coordinator's grant, not public data.
 */
export function publicReceipt(r: ReceiptRow) {
  return {
    sessionId: r.sessionId,
    nodeId: r.nodeId,
    streamId: r.streamId,
    bytes: r.bytes,
    segments: r.segments,
    lastSeq: r.lastSeq,
    issuedAt: r.issuedAt,
  };
}
