import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  breakEvenGb,
  breakEvenViewers,
  defaultProfiles,
  epochRewards,
  nodeMonthlyCostUsd,
  operatorMonth,
  operatorNetAt,
  type Scenario,
  ScenarioSchema,
} from "../src/index.ts";

const RUNS = { seed: 20_261_127, numRuns: 150 };

const profile = fc.constantFrom(...defaultProfiles);
const scenario = fc
  .record({
    p: profile,
    budgetPerEpoch: fc.double({ min: 0, max: 50, noNaN: true }),
    liveHoursPerMonth: fc.integer({ min: 0, max: 720 }),
    bitrateMbps: fc.double({ min: 0.3, max: 12, noNaN: true }),
    viewers: fc.integer({ min: 0, max: 5_000 }),
    otherViewers: fc.integer({ min: 0, max: 50_000 }),
    quality: fc.double({ min: 0, max: 1, noNaN: true }),
    otherQuality: fc.double({ min: 0, max: 1, noNaN: true }),
    relayChildren: fc.integer({ min: 0, max: 8 }),
    backerBps: fc.integer({ min: 0, max: 10_000 }),
    stake: fc.integer({ min: 0, max: 10_000 }),
  })
  .map(({ p, ...rest }): Scenario => ScenarioSchema.parse({ ...rest, provider: p.provider, size: p.size }));

describe("model properties (fast-check, fixed seed)", () => {
  it("earnings never fall as the node serves more, and are never negative", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 5_000 }), (s, more) => {
        const a = operatorMonth(s);
        const b = operatorMonth({ ...s, viewers: s.viewers + more });
        for (const m of [a, b]) {
          expect(m.reward.tokens).toBeGreaterThanOrEqual(0);
          expect(m.reward.operatorTokens).toBeGreaterThanOrEqual(0);
          expect(m.reward.backerTokens).toBeGreaterThanOrEqual(0);
          // One budget per live epoch at most, whatever the audience.
          expect(m.reward.tokens).toBeLessThanOrEqual(s.budgetPerEpoch * m.liveEpochs + 1e-6);
        }
        expect(b.servedGb).toBeGreaterThanOrEqual(a.servedGb);
        expect(b.reward.tokens).toBeGreaterThanOrEqual(a.reward.tokens - 1e-9);
        expect(b.reward.operatorTokens).toBeGreaterThanOrEqual(a.reward.operatorTokens - 1e-9);
      }),
      RUNS,
    );
  });

  it("an epoch pays each node ≥ 0, in total no more than the budget, and more credit never pays less", () => {
    const node = fc.record({
      creditedBytes: fc.integer({ min: 0, max: 2 ** 40 }),
      quality: fc.double({ min: 0, max: 1, noNaN: true }),
      backerBps: fc.integer({ min: 0, max: 10_000 }),
    });
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1_000, noNaN: true }),
        fc.array(node, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (budget, nodes, extra) => {
          const named = nodes.map((n, i) => ({ ...n, nodeId: `n${i}` }));
          const r = epochRewards(budget, named);
          const total = r.reduce((t, x) => t + x.tokens, 0);
          expect(total).toBeLessThanOrEqual(budget + 1e-6);
          for (const x of r) {
            expect(x.operatorTokens).toBeGreaterThanOrEqual(0);
            expect(x.backerTokens).toBeGreaterThanOrEqual(0);
          }
          const more = epochRewards(budget, [
            { ...(named[0] as (typeof named)[0]), creditedBytes: (named[0]?.creditedBytes ?? 0) + extra },
            ...named.slice(1),
          ]);
          expect(more[0]?.tokens ?? 0).toBeGreaterThanOrEqual(r[0]?.tokens ?? 0);
        },
      ),
      RUNS,
    );
  });

  it("break-even GB is where reward meets the cost function, and below it the node loses", () => {
    fc.assert(
      fc.property(
        profile,
        fc.double({ min: 0.000_05, max: 0.1, noNaN: true }),
        fc.double({ min: 0, max: 20, noNaN: true }),
        (p, perGb, extra) => {
          const g = breakEvenGb(p, perGb, extra);
          const net = (gb: number) => perGb * gb - nodeMonthlyCostUsd(p, gb) - extra;
          if (Number.isFinite(g)) {
            expect(Math.abs(net(g))).toBeLessThan(1e-6 * (1 + perGb * g));
            expect(net(g * 0.999)).toBeLessThan(0);
            expect(net(g * 1.001 + 1e-9)).toBeGreaterThanOrEqual(0);
          } else {
            for (const gb of [1, 10, 100, 1e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7]) expect(net(gb)).toBeLessThan(0);
          }
        },
      ),
      RUNS,
    );
  });

  it("break-even viewers is the first audience with a net ≥ 0", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const m = operatorMonth(s);
        const v = breakEvenViewers(s, m.profile);
        if (v === null) {
          for (const x of [0, 1, 2, 5, 10, 50, 100, 1_000, 10_000, 100_000])
            expect(operatorNetAt(s, m.profile, x)).toBeLessThan(0);
        } else {
          expect(operatorNetAt(s, m.profile, v)).toBeGreaterThanOrEqual(0);
          if (v > 0) expect(operatorNetAt(s, m.profile, v - 1)).toBeLessThan(0);
        }
        expect(m.paysForItself).toBe(m.operatorNetUsd >= 0);
      }),
      { ...RUNS, numRuns: 60 },
    );
  });
});
