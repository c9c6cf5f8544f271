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

/** Dotted IPv4 from two 16-bit groups. */
const dotted = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");

/**
 * The IPv4 address a client holds when `addr` is one, or an IPv6 address
 * built from it by rule, else undefined. Every such form is the same host
 * (or its NAT) as far as caps go: without this, one IPv4 address was also
 * a 6to4 /48 (2002:WWXX:YYZZ::/48, automatic, no sign-up) and one /24 was
 * 256 sites; NAT64 or Teredo clients of unrelated IPv4 hosts shared one
 * /48 and one /64.
 */
function ipv4Of(addr: string): string | undefined {
  if (isIPv4(addr)) return addr;
  const g = ipv6Groups(addr);
  if (!g) return undefined;
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, hi = 0, lo = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // IPv4-mapped ::ffff:0:0/96; IPv4-translated (SIIT) ::ffff:0:0:0/96; IPv4-compatible ::/96 (not :: or ::1).
  if (zeroTo(5) && f === 0xffff) return dotted(hi, lo);
  if (zeroTo(4) && e === 0xffff && f === 0) return dotted(hi, lo);
  if (zeroTo(6) && hi !== 0) return dotted(hi, lo);
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the IPv4 host behind the translator.
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return dotted(hi, lo);
  // 6to4 (RFC 3056): 2002:WWXX:YYZZ::/48 is the IPv4 address WW.XX.YY.ZZ's own /48.
  if (a === 0x2002) return dotted(b, c);
  // Teredo (RFC 4380): 2001:0::/32, the client's public IPv4 in the last 32 bits, inverted.
  if (a === 0x2001 && b === 0) return dotted(hi ^ 0xffff, lo ^ 0xffff);
  return undefined;
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
