import { isIPv4, isIPv6 } from "node:net";

/** The eight 16-bit groups of an IPv6 address in any text form (`::`, zone, dotted tail); undefined if not IPv6. */
export function ipv6Groups(addr: string): number[] | undefined {
  let a = addr.split("%")[0] ?? "";
  if (!isIPv6(a)) return undefined;
  const lastColon = a.lastIndexOf(":");
  const dotted = a.slice(lastColon + 1);
  if (isIPv4(dotted)) {
    const o = dotted.split(".").map(Number) as [number, number, number, number];
    a = `${a.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [left = "", right] = a.split("::");
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const head = parse(left);
  const tail = right === undefined ? [] : parse(right);
  const groups = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return groups.length === 8 ? groups : undefined;
}

/** The IPv4 address inside `addr` (plain, or IPv4-mapped IPv6 in either notation), else undefined. */
function ipv4Of(addr: string): string | undefined {
  if (isIPv4(addr)) return addr;
  const g = ipv6Groups(addr);
  if (!g || g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return undefined;
  const [hi = 0, lo = 0] = g.slice(6);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
}

const hex4 = (g: number[]) => g.map((x) => x.toString(16).padStart(4, "0")).join(":");

/**
 * One viewer, as far as an address tells: an IPv4 address, or the /64 of an
 * IPv6 one (a single host is routinely given a whole /64, so its 2^64
 * addresses are one viewer). Ticket rate limits key on it.
 */
export function viewerAddressKey(addr: string): string {
  const v4 = ipv4Of(addr);
  if (v4) return v4;
  const g = ipv6Groups(addr);
  return g ? `${hex4(g.slice(0, 4))}::/64` : `other:${addr}`;
}

/**
 * What one operator of fake viewers cheaply shares: the /24 of an IPv4
 * address, the /64 of an IPv6 one. Ticket limits and credit caps key on it,
 * across streams.
 */
export function subnetOf(addr: string): string {
  const v4 = ipv4Of(addr);
  if (v4) return `${v4.split(".").slice(0, 3).join(".")}.0/24`;
  const g = ipv6Groups(addr);
  return g ? `${hex4(g.slice(0, 4))}::/64` : `other:${addr}`;
}

/**
 * What one operator of fake viewers holds as cheaply as one subnet: the /24
 * of an IPv4 address (the same as its subnet), the /48 of an IPv6 one. A /48
 * is a tunnel broker's free grant and a routine allocation to one customer,
 * and holds 65,536 /64s: capping /64s alone let one /48 be credited as
 * 65,536 audiences. The second credit cap keys on it.
 */
export function siteOf(addr: string): string {
  const v4 = ipv4Of(addr);
  if (v4) return `${v4.split(".").slice(0, 3).join(".")}.0/24`;
  const g = ipv6Groups(addr);
  return g ? `${hex4(g.slice(0, 3))}::/48` : `other:${addr}`;
}
