import { breakEvenGb, viewerGb } from "./break-even.ts";
import { fakeAudienceCredit } from "./caps.ts";
import { nodeMonthlyCostUsd } from "./cost.ts";
import { DEFAULT_RATES, ECONOMICS_DEFAULTS, type Rates } from "./defaults.ts";
import { breakEvenViewers, operatorNetAt } from "./operator.ts";
import { defaultProfiles, type InstanceProfile } from "./profiles.ts";
import { epochRewards } from "./reward.ts";
import { ScenarioSchema } from "./scenario.ts";

/** Rewards per TB served the break-even table is drawn for, USD. */
export const TABLE_REWARDS_USD_PER_TB = [1, 2, 5, 10, 20, 50] as const;
/** The reference viewer: a 3 Mbit/s rendition watched around the clock (972 GB a month). */
const REFERENCE_MBPS = 3;

export interface BreakEvenRow {
  provider: string;
  size: string;
  currency: string;
  monthly: number;
  includedGb: number;
  monthlyUsd: number;
  /** GB a month to break even at each of TABLE_REWARDS_USD_PER_TB; Infinity: never. */
  gb: number[];
}

const fmtGb = (x: number) =>
  Number.isFinite(x)
    ? `${Math.ceil(x).toLocaleString("en-US")} GB (${(x / viewerGb(1, REFERENCE_MBPS, ECONOMICS_DEFAULTS.hoursPerMonth)).toFixed(1)})`
    : "never";

/** The operator's break-even table: every priced profile × reward per TB served. */
export function breakEvenTable(
  table: readonly InstanceProfile[] = defaultProfiles,
  rates: Rates = DEFAULT_RATES,
): { rewardsUsdPerTb: readonly number[]; rows: BreakEvenRow[]; markdown: string } {
  const rows = table.map((p) => ({
    provider: p.provider,
    size: p.size,
    currency: p.currency,
    monthly: p.monthly,
    includedGb: p.includedGb,
    monthlyUsd: nodeMonthlyCostUsd(p, 0, rates),
    gb: TABLE_REWARDS_USD_PER_TB.map((r) => breakEvenGb(p, r / 1000, 0, rates)),
  }));
  const head = `| instance | list price | included | ${TABLE_REWARDS_USD_PER_TB.map((r) => `$${r}/TB`).join(" | ")} |`;
  const rule = `|---|---|---|${TABLE_REWARDS_USD_PER_TB.map(() => "---").join("|")}|`;
  const body = rows.map(
    (r) =>
      `| ${r.provider} ${r.size} | ${r.monthly} ${r.currency} ($${r.monthlyUsd.toFixed(2)}) | ${r.includedGb.toLocaleString("en-US")} GB | ${r.gb.map(fmtGb).join(" | ")} |`,
  );
  return { rewardsUsdPerTb: TABLE_REWARDS_USD_PER_TB, rows, markdown: [head, rule, ...body].join("\n") };
}

/** Budgets per epoch (tokens at $1) the viewers table is drawn for. */
const TABLE_BUDGETS = [0.02, 0.05, 0.1, 0.5, 1, 5] as const;
const TABLE_SIZES = ["cx22", "cpx21", "s-1vcpu-1gb", "s-2vcpu-4gb"] as const;

/**
 * Break-even audience on one node: a 3 Mbit/s stream live 4 h a day
 * (120 h, 120 hourly epochs), 100 viewers on other nodes, stake 1,000
 * tokens at $1 and 5 % a year, no backers.
 */
export function viewersTable(table: readonly InstanceProfile[] = defaultProfiles): string {
  const head = `| instance | ${TABLE_BUDGETS.map((b) => `${b} tokens/epoch`).join(" | ")} |`;
  const rule = `|---|${TABLE_BUDGETS.map(() => "---").join("|")}|`;
  const body = TABLE_SIZES.map((size) => {
    const p = table.find((x) => x.size === size);
    if (!p) throw new Error(`no profile ${size}`);
    const cells = TABLE_BUDGETS.map((budgetPerEpoch) => {
      const s = ScenarioSchema.parse({
        provider: p.provider,
        size,
        budgetPerEpoch,
        otherViewers: 100,
        stake: 1_000,
      });
      const v = breakEvenViewers(s, p);
      return v === null ? "never" : String(v);
    });
    return `| ${p.provider} ${size} | ${cells.join(" | ")} |`;
  });
  return [head, rule, ...body].join("\n");
}

const CURVE_VIEWERS = [0, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500] as const;

/**
 * The break-even curve: the operator's net a month against the audience on
 * its node, for the viewers table's stream at 1 token an epoch. Rises while
 * the node's share of the budget grows faster than its egress bill, then falls
 * once overage outruns it.
 */
export function netCurveTable(table: readonly InstanceProfile[] = defaultProfiles): string {
  const head = `| instance | ${CURVE_VIEWERS.map((v) => `${v} viewers`).join(" | ")} |`;
  const rule = `|---|${CURVE_VIEWERS.map(() => "---").join("|")}|`;
  const body = TABLE_SIZES.map((size) => {
    const p = table.find((x) => x.size === size);
    if (!p) throw new Error(`no profile ${size}`);
    const s = ScenarioSchema.parse({
      provider: p.provider,
      size,
      budgetPerEpoch: 1,
      otherViewers: 100,
      stake: 1_000,
    });
    const cells = CURVE_VIEWERS.map((v) => {
      const net = operatorNetAt(s, p, v);
      return `${net < 0 ? "−" : ""}$${Math.abs(net).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    });
    return `| ${p.provider} ${size} | ${cells.join(" | ")} |`;
  });
  return [head, rule, ...body].join("\n");
}

/**
 * The fake-audience attack: what an operator can be credited in an epoch for
 * viewers it fakes, by address space held, and the share of a budget it takes
 * from honest nodes serving 100 real viewers (quality 1 everywhere). Its best
 * spread over subnets and sessions is searched, as an attacker would.
 */
export function fakeAudienceTable(): string {
  const honestViewers = 100;
  // [sites, subnets usable per site, label]
  const held: Array<[number, number, string]> = [
    [1, 1, "1 IPv4 /24"],
    [2, 1, "2 IPv4 /24s"],
    [3, 1, "3 IPv4 /24s"],
    [10, 1, "10 IPv4 /24s"],
    [34, 1, "34 IPv4 /24s"],
    // A /48 (a tunnel broker's free grant) holds 65,536 /64s; the site cap makes it one identity.
    [1, 65_536, "1 IPv6 /48"],
    [3, 65_536, "3 IPv6 /48s"],
    [34, 65_536, "34 IPv6 /48s"],
  ];
  const rows = held.map(([sites, maxSubnets, label]) => {
    let best = { credit: 0, subnets: 0, per: 0 };
    for (const subnetsPerSite of [1, 2, 3, 4, 5, 10, 100, maxSubnets].filter((n) => n <= maxSubnets)) {
      for (const per of [1, 2, 3, 4, 5, 10]) {
        const c = fakeAudienceCredit({
          producedBytes: 1_000_000,
          sites,
          subnetsPerSite,
          sessionsPerSubnet: per,
        });
        if (c > best.credit) best = { credit: c, subnets: subnetsPerSite, per };
      }
    }
    const worth = best.credit / 1_000_000; // in viewers' worth
    const [fake] = epochRewards(100, [
      { nodeId: "fake", creditedBytes: best.credit, quality: 1 },
      { nodeId: "honest", creditedBytes: honestViewers * 1_000_000, quality: 1 },
    ]);
    return `| ${label} | ${best.subnets} × ${best.per} | ${worth.toLocaleString("en-US")} | ${(fake?.tokens ?? 0).toFixed(1)} % |`;
  });
  return [
    "| address space held | best subnets per site × sessions per subnet | credited (viewers' worth) | share of the budget against 100 honest viewers |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** Every generated table of docs/economics.md, by marker name. */
export function docTables(): Record<string, string> {
  return {
    "break-even": breakEvenTable().markdown,
    viewers: viewersTable(),
    "net-curve": netCurveTable(),
    "fake-audience": fakeAudienceTable(),
  };
}

/** Replaces each `<!-- generated:NAME -->…<!-- /generated:NAME -->` block of `doc` with its table. */
export function fillDoc(doc: string, tables: Record<string, string> = docTables()): string {
  let out = doc;
  for (const [name, table] of Object.entries(tables)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`docs/economics.md has no ${open} … ${close} block`);
    out = `${out.slice(0, a + open.length)}\n${table}\n${out.slice(b)}`;
  }
  return out;
}
