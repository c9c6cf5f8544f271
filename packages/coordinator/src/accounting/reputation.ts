import type { ProbeRow } from "./store.ts";

export interface ReputationParams {
  /** Weight of a probe halves every this long: penalties decay rather than ban for ever. */
  halfLifeMs: number;
  /** Time to first byte that scores 0 (linear from 0 ms = 1). */
  worstTtfbMs: number;
  /** Segments behind the live edge that score 0 for freshness. */
  worstEdgeLag: number;
  /** Assumed success rate before any probe. */
  priorSuccess: number;
}

export const REPUTATION_PARAMS: ReputationParams = {
  halfLifeMs: 30 * 60_000, // ms
  worstTtfbMs: 2_000, // ms
  worstEdgeLag: 6, // segments
  priorSuccess: 0.8,
};

export interface Reputation {
  /** Decaying share of probes that got a verified segment. */
  success: number;
  /** Decaying time-to-first-byte score in [0, 1]. */
  latency: number;
  /** Decaying distance-from-live-edge score in [0, 1]. */
  freshness: number;
  /** Share of time the node was heard from (heartbeats). */
  uptime: number;
  /** Proven tampering zeroes quality until slashing settles it. */
  tampered: boolean;
  /** The product, in [0, 1], used by routing and rewards. */
  quality: number;
  probes: number;
  explain: string[];
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));

/**
 * A node's reputation from its probe history, heartbeat uptime and evidence.
 * Each probe counts with weight 0.5^(age / halfLife), so a bad hour fades.
 */
export function reputation(
  probes: ProbeRow[],
  uptime: number,
  tampered: boolean,
  now: number,
  p: ReputationParams = REPUTATION_PARAMS,
): Reputation {
  let w = 0;
  let ok = 0;
  let lat = 0;
  let latW = 0;
  let fresh = 0;
  let freshW = 0;
  for (const probe of probes) {
    const weight = 0.5 ** ((now - probe.at) / p.halfLifeMs);
    w += weight;
    if (probe.ok) ok += weight;
    if (probe.ok && probe.ttfbMs !== null) {
      lat += weight * clamp01(1 - probe.ttfbMs / p.worstTtfbMs);
      latW += weight;
    }
    if (probe.edgeLag !== null) {
      fresh += weight * clamp01(1 - probe.edgeLag / p.worstEdgeLag);
      freshW += weight;
    }
  }
  // One virtual probe at the prior keeps a single bad probe from zeroing a new node.
  const success = (ok + p.priorSuccess) / (w + 1);
  const latency = latW === 0 ? 1 : lat / latW;
  const freshness = freshW === 0 ? 1 : fresh / freshW;
  const up = clamp01(uptime);
  const quality = tampered ? 0 : clamp01(success * (0.5 + 0.5 * latency) * (0.5 + 0.5 * freshness) * up);
  return {
    success,
    latency,
    freshness,
    uptime: up,
    tampered,
    quality,
    probes: probes.length,
    explain: [
      `success ${success.toFixed(3)} = (decayed ok probes ${ok.toFixed(2)} + prior ${p.priorSuccess}) / (decayed probes ${w.toFixed(2)} + 1)`,
      `latency ${latency.toFixed(3)}: decayed mean of 1 - TTFB/${p.worstTtfbMs} ms over successful probes`,
      `freshness ${freshness.toFixed(3)}: decayed mean of 1 - edge lag/${p.worstEdgeLag} segments`,
      `uptime ${up.toFixed(3)} from heartbeats`,
      tampered
        ? "quality 0: proven tampering (fraud proof stored)"
        : `quality = success × (0.5 + 0.5 latency) × (0.5 + 0.5 freshness) × uptime = ${quality.toFixed(3)}`,
    ],
  };
}

/**
 * Rule: a probe that went through a go-between relay and brings bad news
 * (failed, slow, or behind the live edge) is not believed on that relay's
 * word: it gets a second witness through another relay first. The go-between
 * is a rival in the same market and could fail or slow the probes it carries.
 */
export function needsSecondOpinion(row: ProbeRow, p: ReputationParams = REPUTATION_PARAMS): boolean {
  return !row.ok || (row.ttfbMs ?? 0) > p.worstTtfbMs / 4 || (row.edgeLag ?? 0) > 1;
}

/** Two witnesses of one probe: each measure counts at the better of the two. */
export function betterOf(a: ProbeRow, b: ProbeRow): ProbeRow {
  const minOf = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
  const via = [a.via, b.via].filter((v) => v !== null).join(",") || null;
  if (a.ok !== b.ok) return { ...(a.ok ? a : b), edgeLag: minOf(a.edgeLag, b.edgeLag), via };
  return {
    ...a,
    ttfbMs: a.ok ? minOf(a.ttfbMs, b.ttfbMs) : null,
    throughputBps: a.ok ? Math.max(a.throughputBps ?? 0, b.throughputBps ?? 0) : null,
    edgeLag: minOf(a.edgeLag, b.edgeLag),
    error: a.ok ? null : `${a.error ?? "failed"}; second witness: ${b.error ?? "failed"}`,
    via,
  };
}
