/** Pure reward arithmetic: what each payee gets from an epoch, in token base units (bigint). */

export interface CreditWeight {
  nodeId: string;
  streamId: string;
  /** credited bytes × quality */
  weight: number;
}

export interface Payout {
  /** Per stream: what the epoch draws from its pool. */
  draws: Map<string, bigint>;
  /** Per payee (lowercase address): this epoch's amount. */
  amounts: Map<string, bigint>;
}

export interface NodeSplit {
  operator: string;
  backers: Array<{ account: string; bps: number }>;
}

const WEIGHT_SCALE = 1_000_000; // weights are bytes × quality: keep six decimals of quality

/**
 * `reward_i = draw_stream × w_i / Σw` per stream, then each node's reward is
 * split: backers by their basis points, the operator the rest. Rounding is
 * always down, so the sum paid never exceeds what was drawn.
 */
export function computePayout(
  credits: CreditWeight[],
  drawable: Map<string, bigint>,
  splits: Map<string, NodeSplit>,
): Payout {
  const draws = new Map<string, bigint>();
  const amounts = new Map<string, bigint>();
  const add = (who: string, v: bigint) => {
    if (v > 0n) amounts.set(who.toLowerCase(), (amounts.get(who.toLowerCase()) ?? 0n) + v);
  };
  const byStream = new Map<string, CreditWeight[]>();
  for (const c of credits) {
    if (c.weight <= 0) continue;
    const list = byStream.get(c.streamId);
    if (list) list.push(c);
    else byStream.set(c.streamId, [c]);
  }
  for (const [streamId, list] of byStream) {
    const pot = drawable.get(streamId) ?? 0n;
    if (pot === 0n) continue;
    const ws = list.map((c) => BigInt(Math.round(c.weight * WEIGHT_SCALE)));
    const total = ws.reduce((a, b) => a + b, 0n);
    if (total === 0n) continue;
    let paid = 0n;
    list.forEach((c, i) => {
      const reward = (pot * (ws[i] ?? 0n)) / total;
      const split = splits.get(c.nodeId.toLowerCase()) ?? { operator: c.nodeId, backers: [] };
      let toBackers = 0n;
      for (const b of split.backers) {
        const share = (reward * BigInt(b.bps)) / 10_000n;
        add(b.account, share);
        toBackers += share;
      }
      add(split.operator, reward - toBackers);
      paid += reward;
    });
    draws.set(streamId, paid);
  }
  return { draws, amounts };
}

/** This epoch's amounts added to everything owed before: the leaves of a cumulative tree. */
export function cumulate(previous: Map<string, bigint>, amounts: Map<string, bigint>): Map<string, bigint> {
  const out = new Map(previous);
  for (const [who, v] of amounts) out.set(who, (out.get(who) ?? 0n) + v);
  return out;
}
