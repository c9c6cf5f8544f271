import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { isIP } from "node:net";

/**
 * Where a viewer is, in the region vocabulary nodes register with (`eu-west`,
 * `us-east`, …): the one place that maps countries to regions. Country-level
 * GeoIP (GeoLite2 data shipped in the `geoip-country` npm package, read from
 * disk once, ~1 µs a lookup) is as fine as routing needs: a region is a
 * continent-sized place, and `?region=` overrides it.
 */

interface GeoRecord {
  country: string;
  continent?: string;
}
const geoip = createRequire(import.meta.url)("geoip-country") as {
  lookup(ip: string): GeoRecord | null;
};

/** Countries whose region is not their continent's default (ISO 3166-1 alpha-2 → region). */
const COUNTRY_REGION: Readonly<Record<string, string>> = {
  US: "us-east",
  CA: "us-east",
  MX: "us-west",
  GB: "eu-west",
  IE: "eu-west",
  FR: "eu-west",
  ES: "eu-west",
  PT: "eu-west",
  BE: "eu-west",
  NL: "eu-west",
  LU: "eu-west",
  IT: "eu-south",
  GR: "eu-south",
  MT: "eu-south",
  CY: "eu-south",
  SE: "eu-north",
  NO: "eu-north",
  FI: "eu-north",
  DK: "eu-north",
  IS: "eu-north",
  EE: "eu-north",
  LV: "eu-north",
  LT: "eu-north",
  IN: "ap-south",
  PK: "ap-south",
  BD: "ap-south",
  LK: "ap-south",
  NP: "ap-south",
  JP: "ap-northeast",
  KR: "ap-northeast",
  CN: "ap-east",
  HK: "ap-east",
  TW: "ap-east",
  MO: "ap-east",
  AU: "ap-southeast-2",
  NZ: "ap-southeast-2",
  AE: "me-central",
  SA: "me-central",
  IL: "me-central",
  TR: "me-central",
  QA: "me-central",
  IR: "me-central",
  IQ: "me-central",
};

/** The rest of a continent (GeoIP continent code → region). */
const CONTINENT_REGION: Readonly<Record<string, string>> = {
  EU: "eu-central",
  NA: "us-east",
  SA: "sa-east",
  AF: "af-south",
  AS: "ap-southeast",
  OC: "ap-southeast-2",
  AN: "sa-east",
};

/**
 * The wider area a region lies in (its prefix before the first `-`, with the
 * Americas' and Asia-Pacific's prefixes joined): a node in the viewer's area
 * but not its region is "near", better than across an ocean.
 */
const AREA_OF_PREFIX: Readonly<Record<string, string>> = { us: "na", ca: "na", mx: "na", au: "ap" };

const areas = new Map<string, string>();
/** Regions areas were computed for: the vocabulary in use is small, but nodes choose it, so bound it. */
const MAX_MEMO_REGIONS = 10_000;

export function areaOf(region: string): string {
  let area = areas.get(region);
  if (area === undefined) {
    const prefix = region.split("-", 1)[0] ?? region;
    area = AREA_OF_PREFIX[prefix] ?? prefix;
    if (areas.size < MAX_MEMO_REGIONS) areas.set(region, area);
  }
  return area;
}

/** The region of a country (ISO alpha-2) on a continent (GeoIP code); undefined when neither is known. */
export function regionOfCountry(country: string, continent?: string): string | undefined {
  return COUNTRY_REGION[country] ?? (continent === undefined ? undefined : CONTINENT_REGION[continent]);
}

/**
 * The region of an IP address (v4, v6 or v4-mapped v6), or undefined for
 * loopback, private and unknown addresses: those say nothing about where a
 * viewer is.
 */
export function regionOfAddress(address: string | undefined): string | undefined {
  if (address === undefined || isIP(address) === 0) return undefined;
  const rec = geoip.lookup(address);
  return rec ? regionOfCountry(rec.country, rec.continent) : undefined;
}

/**
 * The viewer's address: the socket's peer, or — only when that peer is one of
 * `trustedProxies` — the nearest X-Forwarded-For hop that is not itself a
 * trusted proxy. A header from anyone else is the client's own claim and
 * ignored (it could steer routing for someone else's benefit).
 */
export function viewerAddress(req: IncomingMessage, trustedProxies: readonly string[]): string | undefined {
  const peer = normalise(req.socket.remoteAddress);
  if (peer === undefined || !trustedProxies.includes(peer)) return peer;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((h) => normalise(h.trim()))
    .filter((h): h is string => h !== undefined);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trustedProxies.includes(hop)) return hop;
  }
  return peer;
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything that is not an address → undefined. */
function normalise(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const plain = address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return isIP(plain) === 0 ? undefined : plain;
}
