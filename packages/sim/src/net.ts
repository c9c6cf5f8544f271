import type { Rng } from "./rng.ts";

/**
 * The modelled internet: one-way latency between regions and the address
 * a viewer's tickets come from. Links are latency by distance class; loss
 * shows up as failed requests in the delivery model, not packet by packet.
 */
export const LATENCY_MS = { sameRegion: 15, sameArea: 40, elsewhere: 140 } as const;
/** A request the viewer makes to the coordinator (ticket, candidates), round trip. */
export const COORDINATOR_RTT_MS = 80;

const areaOf = (region: string) => region.split("-", 1)[0] ?? region;

export function rttMs(a: string, b: string): number {
  const one =
    a === b ? LATENCY_MS.sameRegion : areaOf(a) === areaOf(b) ? LATENCY_MS.sameArea : LATENCY_MS.elsewhere;
  return 2 * one;
}

/** Draws a key of `mix` with probability proportional to its value. */
export function pickWeighted(mix: Record<string, number>, rng: Rng): string {
  const entries = Object.entries(mix);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return (entries[entries.length - 1] as [string, number])[0];
}

/** A random public-looking IPv4 address (honest viewers: one each, spread over the space). */
export function randomIPv4(rng: Rng): string {
  return `${1 + rng.int(222)}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
}
