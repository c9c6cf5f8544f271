import type { ViewerCandidate } from "./viewer-index.ts";

/** A sampled node, scored for one viewer. */
export interface Scored {
  nodeId: string;
  url: string;
  region: string;
  operator: string;
  score: number;
  /** No spare capacity left: offered only to make up MIN_CANDIDATES. */
  full: boolean;
  reasons: string[];
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
  const out: Scored[] = [];
  const operators = new Set<string>();
  const draw = (from: Scored[], upTo: number) => {
    const left = [...from].sort((a, b) => b.score - a.score || a.nodeId.localeCompare(b.nodeId));
    while (out.length < upTo && left.length > 0) {
      const fresh = left.filter((c) => !operators.has(c.operator));
      const choice = drawComparable(fresh.length > 0 ? fresh : left, random);
      left.splice(left.indexOf(choice), 1);
      if (operators.has(choice.operator)) choice.reasons.push("same-operator");
      operators.add(choice.operator);
      out.push(choice);
    }
  };
  draw(
    pool.filter((c) => !c.full),
    count,
  );
  draw(
    pool.filter((c) => c.full).map((c) => ({ ...c, reasons: [...c.reasons, "full"] })),
    Math.min(count, MIN_CANDIDATES),
  );
  // The player orders by score: keep it strictly decreasing along the drawn order.
  let previous = Number.POSITIVE_INFINITY;
  return out.map((c) => {
    const score = Math.min(Number(c.score.toFixed(4)), Number((previous - 0.0001).toFixed(4)));
    previous = score;
    return { nodeId: c.nodeId, url: c.url, region: c.region, score, reasons: c.reasons };
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
