import { siteOf, subnetOf } from "@streamrp2p/coordinator";
import {
  computeEpoch,
  EPOCH_PARAMS,
  type EpochInput,
} from "@streamrp2p/coordinator/accounting/epoch-compute";
import { isSrpError } from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";
import {
  breakEvenGb,
  egressCostUsd,
  egressWithinBudgetGb,
  epochCostUsd,
  epochRewards,
  fakeAudienceCredit,
  findProfile,
  nodeMonthlyCostUsd,
  operatorMonth,
  operatorNetAt,
  ScenarioSchema,
} from "../src/index.ts";

const cx22 = findProfile("hetzner", "cx22", "fsn1");
const do1 = findProfile("digitalocean", "s-1vcpu-1gb", "fra1");
const do512 = findProfile("digitalocean", "s-1vcpu-512mb-10gb");

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isSrpError(e) ? `${e.code}: ${e.message}` : `not an SrpError: ${String(e)}`;
  }
  return "no error";
}

describe("costs", () => {
  it("adds overage past the included egress, in USD at the configured EUR rate", () => {
    expect(nodeMonthlyCostUsd(cx22, 0)).toBeCloseTo(3.79 * 1.08, 9); // 4.0932
    expect(nodeMonthlyCostUsd(cx22, 20_000)).toBeCloseTo(4.0932, 9);
    expect(egressCostUsd(cx22, 25_000)).toBeCloseTo(5_000 * 0.001 * 1.08, 9); // 5.4
    expect(nodeMonthlyCostUsd(cx22, 25_000, { usdPerEur: 1 })).toBeCloseTo(3.79 + 5, 9);
    expect(nodeMonthlyCostUsd(do1, 1_500)).toBeCloseTo(6 + 500 * 0.01, 9); // USD: no conversion
    expect(egressCostUsd(do1, 999)).toBe(0);
  });

  it("steps a month epoch by epoch to the same total (for the simulator)", () => {
    let sent = 0;
    let total = 0;
    for (let e = 0; e < 720; e++) {
      total += epochCostUsd(do1, sent, 2, 60); // 1,440 GB over the month: 440 GB of overage
      sent += 2;
    }
    expect(total).toBeCloseTo(nodeMonthlyCostUsd(do1, 1_440), 9); // $6 + $4.40
    expect(epochCostUsd(cx22, 0, 0, 30)).toBeCloseTo(4.0932 / 1_440, 12);
    expect(code(() => epochCostUsd(cx22, 0, -1, 60))).toMatch(/VALIDATION_FAILED/);
    expect(code(() => epochCostUsd(cx22, 0, 1, 0))).toMatch(/epoch length/);
  });

  it("refuses negative or non-finite egress", () => {
    expect(code(() => egressCostUsd(cx22, -1))).toMatch(/^VALIDATION_FAILED: egress/);
    expect(code(() => nodeMonthlyCostUsd(do1, Number.NaN))).toMatch(/^VALIDATION_FAILED/);
  });

  it("sizes egress within a budget as the Terraform module does", () => {
    expect(egressWithinBudgetGb(cx22, 10)).toBeCloseTo(20_000 + (10 - 3.79) / 0.001, 6); // 26,210
    expect(egressWithinBudgetGb(do1, 5)).toBe(0); // the instance alone is over budget
  });

  it("names what is priced when a profile is unknown", () => {
    expect(code(() => findProfile("aws", "t3.micro"))).toMatch(
      /unknown provider "aws" \(priced: digitalocean, hetzner\)/,
    );
    expect(code(() => findProfile("hetzner", "cx99"))).toMatch(
      /no price for hetzner size "cx99" \(priced: cx22/,
    );
    expect(code(() => findProfile("hetzner", "cx22", "ash"))).toMatch(
      /in region "ash" \(priced in: fsn1, nbg1, hel1\)/,
    );
  });
});

describe("rewards through the settler's arithmetic", () => {
  it("splits the budget by credited bytes × quality, then between operator and backers", () => {
    const [a, b] = epochRewards(100, [
      { nodeId: "a", creditedBytes: 3e9, quality: 1, backerBps: 2_500 },
      { nodeId: "b", creditedBytes: 1e9, quality: 1 },
    ]);
    expect(a).toEqual({ nodeId: "a", tokens: 75, operatorTokens: 56.25, backerTokens: 18.75 });
    expect(b).toEqual({ nodeId: "b", tokens: 25, operatorTokens: 25, backerTokens: 0 });
    const [c, d] = epochRewards(100, [
      { nodeId: "c", creditedBytes: 3e9, quality: 0.5 },
      { nodeId: "d", creditedBytes: 1e9, quality: 1 },
    ]);
    expect([c?.tokens, d?.tokens]).toEqual([60, 40]); // weights 1.5e9 : 1e9
  });

  it("pays nothing when nothing is credited, and rounds down (never more than the budget)", () => {
    expect(epochRewards(100, [{ nodeId: "a", creditedBytes: 0, quality: 1 }])[0]?.tokens).toBe(0);
    const r = epochRewards(1, [
      { nodeId: "a", creditedBytes: 1, quality: 1 },
      { nodeId: "b", creditedBytes: 1, quality: 1 },
      { nodeId: "c", creditedBytes: 1, quality: 1 },
    ]);
    expect(r.map((x) => x.tokens)).toEqual([0.333333, 0.333333, 0.333333]);
  });

  it("refuses a backer share over 100 % and a quality outside [0, 1]", () => {
    expect(
      code(() => epochRewards(1, [{ nodeId: "a", creditedBytes: 1, quality: 1, backerBps: 10_001 }])),
    ).toMatch(/VALIDATION_FAILED: backer share/);
    expect(code(() => epochRewards(1, [{ nodeId: "a", creditedBytes: 1, quality: 1.5 }]))).toMatch(/quality/);
  });
});

describe("break-even", () => {
  it("solves reward × GB = cost on each piece of the cost function", () => {
    expect(breakEvenGb(cx22, 0.001)).toBeCloseTo(4_093.2, 6); // inside the included 20 TB
    expect(breakEvenGb(do1, 0.02)).toBeCloseTo(300, 9);
    // Past the included 500 GB: 500 + (10 − 0.015 × 500) / (0.015 − 0.01) = 1,000; cost there 4 + 5 + 6 = 15.
    expect(breakEvenGb(do512, 0.015, 6)).toBeCloseTo(1_000, 6);
    expect(nodeMonthlyCostUsd(do512, 1_000) + 6).toBeCloseTo(0.015 * 1_000, 9);
    expect(breakEvenGb(do1, 0.005)).toBe(Number.POSITIVE_INFINITY); // 1,200 GB needed, past 1 TB each GB loses
    expect(breakEvenGb(do1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("an operator's month", () => {
  it("adds up a hand-checked month", () => {
    // 50 of 100 viewers at 3 Mbit/s for 120 h: 50 × 3e6 × 432,000 s / 8 = 8,100 GB; half of 1 token × 120 epochs.
    const m = operatorMonth(ScenarioSchema.parse({ budgetPerEpoch: 1, viewers: 50, otherViewers: 50 }));
    expect(m.profile.size).toBe("cx22");
    expect(m.liveEpochs).toBe(120);
    expect(m.servedGb).toBeCloseTo(8_100, 9);
    expect(m.reward.tokens).toBeCloseTo(60, 9);
    expect(m.cost.totalUsd).toBeCloseTo(4.0932, 9);
    expect(m.operatorNetUsd).toBeCloseTo(55.9068, 9);
    expect(m.rewardUsdPerGb).toBeCloseTo(60 / 8_100, 12);
    expect(m.paysForItself).toBe(true);
    // 2 viewers of 52 earn 120/26 = 4.615 ≥ 4.0932; 1 of 51 earns 2.35.
    expect(m.breakEven.viewers).toBe(2);
    expect(m.breakEven.gbAtThisRate).toBeCloseTo(4.0932 / (60 / 8_100), 6);
  });

  it("counts backers, their payments, the stake's forgone yield and child relays' egress", () => {
    const m = operatorMonth(
      ScenarioSchema.parse({
        provider: "digitalocean",
        size: "s-1vcpu-1gb",
        budgetPerEpoch: 2,
        liveHoursPerMonth: 100,
        viewers: 10,
        relayChildren: 20,
        backerBps: 2_000,
        backerPaysUsd: 3,
        stake: 1_200,
        tokenUsd: 0.5,
      }),
    );
    // The node serves everyone: 2 tokens × 100 epochs = 200 tokens = $100; backers 20 %.
    expect(m.reward.operatorUsd).toBeCloseTo(80, 9);
    expect(m.reward.backerUsd).toBeCloseTo(20, 9);
    // Egress (10 + 20) × 3 Mbit/s × 100 h = 4,050 GB: $6 + 3,050 × $0.01; stake 1,200 × $0.5 × 5 % / 12 = $2.5.
    expect(m.egressGb).toBeCloseTo(4_050, 9);
    expect(m.servedGb).toBeCloseTo(1_350, 9);
    expect(m.cost.overageUsd).toBeCloseTo(30.5, 9);
    expect(m.cost.stakeUsd).toBeCloseTo(2.5, 9);
    expect(m.operatorNetUsd).toBeCloseTo(80 + 3 - (6 + 30.5 + 2.5), 9);
    expect(m.backerNetUsd).toBeCloseTo(17, 9);
  });

  it("finds the first viewer count that pays, where each viewer adds cents", () => {
    // cx22 at $4.0932; 5 tokens × 120 epochs shared with 5,000 other viewers:
    // 34 viewers earn 600 × 34/5,034 = 4.052, 35 earn 600 × 35/5,035 = 4.171.
    const s = ScenarioSchema.parse({ budgetPerEpoch: 5, otherViewers: 5_000 });
    expect(operatorMonth(s).breakEven.viewers).toBe(35);
    // Each epoch rounds down to a millionth of a token: within 120 × 1e-6.
    expect(operatorNetAt(s, cx22, 34)).toBeCloseTo(600 * (34 / 5_034) - 4.0932, 3);
  });

  it("finds no break-even when the budget cannot cover the instance", () => {
    const s = ScenarioSchema.parse({ budgetPerEpoch: 0.01, liveHoursPerMonth: 10, viewers: 5 });
    expect(operatorMonth(s).breakEven.viewers).toBeNull();
    expect(operatorNetAt(s, cx22, 1e6)).toBeLessThan(0);
  });
});

type ReceiptRow = EpochInput["receipts"][number];
type SessionRow = EpochInput["sessions"] extends Map<string, infer S> ? S : never;
type SegmentRow = EpochInput["segments"] extends Map<string, Array<infer S>> ? S : never;

describe("caps the model shares with the coordinator", () => {
  /**
   * A fake audience through the coordinator's own computeEpoch and its own
   * address keys: what it credits the node. IPv6 sessions sit in distinct /64s
   * of one /48 per site; IPv4 ones in one /24 per site.
   */
  function creditedByCoordinator(
    a: { sites: number; subnetsPerSite: number; sessionsPerSubnet: number; ipv6: boolean },
    segs: number,
    segBytes: number,
  ): number {
    const startsAt = 1_000_000;
    const endsAt = startsAt + 3_600_000;
    const segments: SegmentRow[] = Array.from({ length: segs }, (_, i) => ({
      streamId: "s",
      rendition: "v",
      seq: i,
      byteLength: segBytes,
      durationMs: 1000,
      producedAt: startsAt + 1 + i,
    }));
    const sessions = new Map<string, SessionRow>();
    const receipts: ReceiptRow[] = [];
    for (let n = 0; n < a.sites; n++)
      for (let m = 0; m < a.subnetsPerSite; m++)
        for (let k = 0; k < a.sessionsPerSubnet; k++) {
          const sessionId = `s${n}-${m}-${k}`;
          const clientAddr = a.ipv6
            ? `2001:db8:${n.toString(16)}:${m.toString(16)}::${(k + 1).toString(16)}`
            : `10.0.${n}.${k + 1}`;
          sessions.set(sessionId, {
            sessionId,
            streamId: "s",
            viewerKey: null,
            clientAddr,
            subnet: subnetOf(clientAddr),
            site: siteOf(clientAddr),
            issuedAt: startsAt,
            expiresAt: endsAt,
            isProbe: false,
          });
          receipts.push({
            sessionId,
            nodeId: "n",
            streamId: "s",
            bytes: segs * segBytes * 2, // claims twice what was produced
            segments: segs,
            lastSeq: segs - 1,
            issuedAt: endsAt - 1,
            json: "{}",
          });
        }
    const out = computeEpoch({
      epoch: 1,
      startsAt,
      endsAt,
      receipts,
      sessions,
      creditedSoFar: new Map(),
      segments: new Map([["s", segments]]),
      maxInitBytes: new Map(),
      quality: new Map([["n", 1]]),
      params: EPOCH_PARAMS,
    });
    return out.credits.reduce((n, c) => n + c.creditedBytes, 0);
  }

  it.each([
    [1, 1, 1, false],
    [1, 1, 3, false],
    [1, 1, 4, false], // over the per-subnet cap
    [2, 1, 3, false], // 6 sessions from 2 /24s: withheld
    [3, 1, 2, false],
    [4, 1, 6, false],
    [1, 4, 1, true], // 4 /64s of one /48: under the few-identities count, at the site cap
    [1, 40, 1, true], // 40 /64s of one /48: one site, 3 sessions' worth
    [3, 40, 1, true], // 3 /48s: each capped at 3 sessions' worth, not 40
    [3, 40, 2, true],
    [4, 2, 4, true], // both caps bind
  ])(
    "%i sites × %i subnets × %i sessions (IPv6: %s): the model's ceiling is what computeEpoch credits",
    (sites, subnetsPerSite, sessionsPerSubnet, ipv6) => {
      const produced = 100 * 1_000;
      const model = fakeAudienceCredit({ producedBytes: produced, sites, subnetsPerSite, sessionsPerSubnet });
      expect(model).toBe(
        creditedByCoordinator({ sites, subnetsPerSite, sessionsPerSubnet, ipv6 }, 100, 1_000),
      );
    },
  );

  it("caps a subnet at three sessions' worth and withholds many sessions from two subnets", () => {
    const v4 = (sites: number, sessionsPerSubnet: number) =>
      fakeAudienceCredit({ producedBytes: 1_000, sites, subnetsPerSite: 1, sessionsPerSubnet });
    expect(v4(1, 4)).toBe(3_000);
    expect(v4(1, 5)).toBe(0);
    expect(v4(2, 3)).toBe(0);
    expect(v4(3, 3)).toBe(9_000);
  });

  it("counts one IPv6 /48 as one identity however many /64s it spreads over", () => {
    const gb = 1e9;
    const v6 = (sites: number, subnetsPerSite: number) =>
      fakeAudienceCredit({ producedBytes: gb, sites, subnetsPerSite, sessionsPerSubnet: 1 });
    // Was 3 × 65,536 viewers' worth while the caps keyed on the /64; now 3 per /48 (floor loses < 1 byte a session).
    expect(v6(3, 65_536)).toBeLessThanOrEqual(9 * gb);
    expect(v6(3, 65_536)).toBeGreaterThan(9 * gb - 3 * 65_536);
    expect(v6(1, 65_536)).toBeLessThanOrEqual(3 * gb); // one site: 3 sessions' worth however many /64s
    expect(v6(1, 65_536)).toBeGreaterThan(3 * gb - 65_536);
    expect(v6(3, 3)).toBe(
      fakeAudienceCredit({ producedBytes: gb, sites: 3, subnetsPerSite: 1, sessionsPerSubnet: 3 }),
    );
  });
});
