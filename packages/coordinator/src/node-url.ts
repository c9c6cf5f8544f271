import { BlockList, isIP } from "node:net";
import { SrpError } from "@streamrp2p/protocol";

/** Which node URLs the coordinator accepts (it and the origins fetch them). */
export type NodeUrlPolicy = "auto" | "public" | "any";

/** Addresses no public node has: loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved. */
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["::", 96], // IPv4-compatible (deprecated): any IPv4 inside
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48], // local-use NAT64
  ["2002::", 16], // 6to4: embeds any IPv4, private ones included
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, "ipv6");

/** Checks a configured policy; throws VALIDATION_FAILED for anything else. */
export function parseNodeUrlPolicy(value: string): NodeUrlPolicy {
  if (value === "auto" || value === "public" || value === "any") return value;
  throw new SrpError("VALIDATION_FAILED", `nodeUrls must be auto, public or any, not ${value}`);
}

/** A coordinator listening on loopback can only have local nodes; anywhere else, nodes must be public. */
export function effectivePolicy(policy: NodeUrlPolicy, listenHost: string): "public" | "any" {
  if (policy !== "auto") return policy;
  return listenHost === "127.0.0.1" || listenHost === "::1" || listenHost === "localhost" ? "any" : "public";
}

/**
 * Rule: under "public", a node URL must name a publicly routable host, so that
 * the coordinator's prober and the origins, which fetch node URLs, cannot be
 * pointed at internal services (SSRF: cloud metadata, databases, admin pages).
 * Host names are judged by name here (localhost and friends refused); one
 * that resolves to a private address later is a residual risk, noted in
 * docs/security.md. Throws VALIDATION_FAILED.
 */
export function checkNodeUrl(raw: string, policy: "public" | "any"): void {
  const url = new URL(raw);
  if (url.username || url.password)
    throw new SrpError("VALIDATION_FAILED", "node URL must not carry credentials");
  if (policy === "any") return;
  // One trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
  const family = isIP(host);
  if (family === 0) {
    if (
      host === "localhost" ||
      host.endsWith(".localhost") ||
      host.endsWith(".local") ||
      !host.includes(".")
    ) {
      throw new SrpError("VALIDATION_FAILED", `node URL host ${host} is not a public name`);
    }
    return;
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  const blocked = mapped
    ? NOT_PUBLIC.check(mapped, "ipv4")
    : NOT_PUBLIC.check(host, family === 4 ? "ipv4" : "ipv6");
  if (blocked) throw new SrpError("VALIDATION_FAILED", `node URL host ${host} is not a public address`);
}
