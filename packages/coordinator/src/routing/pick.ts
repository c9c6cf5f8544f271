import type { ViewerCandidate } from "./viewer-index.ts";

/** A sampled node, scored for one viewer. */
export interface Scored {
  nodeId: string;
  url: string;
  region: string;
  operator: string;
  score: number;
  /** 1 same region, 0.5 same area, 0 elsewhere; undefined when the viewer's region is unknown. */
  near: number | undefined;
  /** Share of believed capacity free, in [0, 1]; 0 is full (offered only to make up MIN_CANDIDATES). */
  spare: number;
  quality: number;
  suspect: boolean;
  ingest: boolean;
}

/** Why a candidate is on the list, for people reading replies (built only for the few picked). */
function reasonsOf(c: Scored, repeatsOperator: boolean): string[] {
  const n = c.near;
  const place =
    n === undefined
      ? "viewer-region-unknown"
      : n === 1
        ? "same-region"
        : n > 0
          ? "near-region"
          : "other-region";
  const reasons = [place, `spare ${Math.round(c.spare * 100)}%`, `quality ${c.quality.toFixed(2)}`];
  if (c.suspect) reasons.push("suspect");
  if (c.ingest) reasons.push("ingest");
  if (c.spare <= 0) reasons.push("full");
  if (repeatsOperator) reasons.push("same-operator");
  return reasons;
}

/** A viewer gets at least this many nodes to fail over between, when that many exist. */
export const MIN_CANDIDATES = 3;
/**
 * Nodes within this fraction of the best score are comparable: one is drawn
 * among them at random, weighted by score, so a thousand viewers arriving at
 * once spread over the good nodes instead of herding onto the single best.
 */
export const COMPARABLE_BAND = 0.2;

/**
 * Up to `count` candidates in preference order. Each pick skips operators
 * already picked while nodes of other operators remain, so one operator's
 * outage (or collusion) never takes out a viewer's whole list. Full nodes
 * come only after every node with spare capacity, and only to reach
 * MIN_CANDIDATES.
 */
export function pickCandidates(pool: Scored[], count: number, random: () => number): ViewerCandidate[] {
  const out: Array<{ c: Scored; repeat: boolean }> = [];
  const operators = new Set<string>();
  const draw = (from: Scored[], upTo: number) => {
    const left = [...from].sort((a, b) => b.score - a.score || a.nodeId.localeCompare(b.nodeId));
    while (out.length < upTo && left.length > 0) {
      const fresh = left.filter((c) => !operators.has(c.operator));
      const choice = drawComparable(fresh.length > 0 ? fresh : left, random);
      left.splice(left.indexOf(choice), 1);
      out.push({ c: choice, repeat: operators.has(choice.operator) });
      operators.add(choice.operator);
    }
  };
  draw(
    pool.filter((c) => c.spare > 0),
    count,
  );
  draw(
    pool.filter((c) => c.spare <= 0),
    Math.min(count, MIN_CANDIDATES),
  );
  // The player orders by score: keep it strictly decreasing along the drawn order.
  let previous = Number.POSITIVE_INFINITY;
  return out.map(({ c, repeat }) => {
    const score = Math.min(Number(c.score.toFixed(4)), Number((previous - 0.0001).toFixed(4)));
    previous = score;
    return { nodeId: c.nodeId, url: c.url, region: c.region, score, reasons: reasonsOf(c, repeat) };
  });
}

/** One of the nodes near the best of `sorted` (best first), drawn with probability ∝ score. */
function drawComparable(sorted: Scored[], random: () => number): Scored {
  const best = sorted[0] as Scored;
  const floor = best.score - Math.abs(best.score) * COMPARABLE_BAND;
  let end = 1;
  while (end < sorted.length && (sorted[end] as Scored).score >= floor) end++;
  if (end === 1 || best.score <= 0) return best;
  const band = sorted.slice(0, end);
  const total = band.reduce((sum, c) => sum + c.score, 0);
  let r = random() * total;
  for (const c of band) {
    r -= c.score;
    if (r < 0) return c;
  }
  return band[band.length - 1] as Scored;
}
