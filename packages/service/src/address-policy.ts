import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import type { FetchLike } from "./client.ts";

/**
 * Which addresses a service may connect to when a URL comes from someone else
 * (a node's registered URL, a coordinator's probe task): "public" refuses
 * loopback, private, link-local (cloud metadata) and the like; "any" is for a
 * network that lives on one machine or one LAN.
 */
export type AddressPolicy = "public" | "any";

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
  ["240.0.0.0", 4], // reserved, and 255.255.255.255
  ["192.0.2.0", 24], // documentation
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["::", 96], // IPv4-compatible (deprecated): any IPv4 inside
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48], // local-use NAT64
  ["2002::", 16], // 6to4: embeds any IPv4, private ones included
  ["::ffff:0:0:0", 96], // IPv4-translated (SIIT, ::ffff:0:a.b.c.d): any IPv4 inside
  ["2001::", 32], // Teredo: embeds an IPv4
  ["2001:db8::", 32], // documentation
  ["fec0::", 10], // site-local (deprecated)
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, "ipv6");

/** True for an IP address (v4, v6, or v4-mapped v6) that a public host can have. False for names. */
export function isPublicAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, "").toLowerCase();
  const family = isIP(host);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  if (mapped) return !NOT_PUBLIC.check(mapped, "ipv4");
  return !NOT_PUBLIC.check(host, family === 4 ? "ipv4" : "ipv6");
}

/** Thrown (as the cause of fetch's TypeError) when a destination is not allowed. */
export class AddressNotAllowedError extends Error {
  readonly code = "SRP_ADDRESS_NOT_PUBLIC";
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, which is not a public address`);
  }
}

/** True if `err` or anything in its cause chain is an AddressNotAllowedError. */
export function isAddressNotAllowed(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof AddressNotAllowedError) return true;
  }
  return false;
}

export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net.connect that resolves with `resolve` and fails with
 * AddressNotAllowedError unless every address the name has is public.
 */
export function publicOnlyLookup(resolve: Resolver = dnsLookup as Resolver) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (bad || addresses.length === 0)
        return callback(new AddressNotAllowedError(hostname, bad?.address ?? "nothing"), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/**
 * A fetch that, under "public", refuses at connect time any destination
 * whose address is not public: names are resolved once and every address
 * they resolve to is checked, and the socket connects to what was checked —
 * no window for DNS rebinding between a check and the connection. Redirects
 * are the caller's business (callers pass redirect: "manual").
 */
export function guardedFetch(policy: AddressPolicy, resolve: Resolver = dnsLookup as Resolver): FetchLike {
  if (policy === "any") return fetch;
  const agent = new Agent({ connect: { lookup: publicOnlyLookup(resolve) } as never });
  return (async (input: Parameters<FetchLike>[0], init?: Parameters<FetchLike>[1]) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    // A literal address is never looked up: check it here.
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0 && !isPublicAddress(host)) {
      throw new TypeError("fetch failed", { cause: new AddressNotAllowedError(host, host) });
    }
    return (await undiciFetch(url, {
      ...(init as object),
      dispatcher: agent,
    } as never)) as unknown as Response;
  }) as FetchLike;
}

/**
 * What "auto" means for a service that fetches URLs others gave it: a network
 * whose coordinator (`peerUrl`) is on loopback lives on one machine, where
 * internal addresses are the norm; any other is treated as public and
 * internal destinations are refused (a LAN network says "any" explicitly: a
 * node with a LAN coordinator may still face the internet). With several
 * coordinator replicas, "any" only when every one is on loopback.
 */
export function resolveAddressPolicy(
  setting: "auto" | AddressPolicy,
  peerUrl: string | readonly string[],
): AddressPolicy {
  if (setting !== "auto") return setting;
  const urls = typeof peerUrl === "string" ? [peerUrl] : peerUrl;
  return urls.length > 0 && urls.every(isLoopbackUrl) ? "any" : "public";
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    (isIP(host) === 4 && host.startsWith("127.")) ||
    host === "::1"
  );
}
