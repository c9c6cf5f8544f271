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
 * viewers it fakes, by subnets held, and the share of a budget it takes from
 * honest nodes serving 100 real viewers (quality 1 everywhere).
 */
export function fakeAudienceTable(): string {
  const honestViewers = 100;
  const held: Array<[number, string]> = [
    [1, "1"],
    [2, "2"],
    [3, "3"],
    [5, "5"],
    [10, "10"],
    [34, "34"],
    // Caps key IPv6 on the /64: one /48 (a tunnel broker's or a VPS provider's routine grant) is 65,536 of them.
    [65_536, "65,536 (one IPv6 /48)"],
  ];
  const rows = held.map(([subnets, label]) => {
    const best = [1, 2, 3, 4, 5, 10].reduce(
      (acc, per) => {
        const c = fakeAudienceCredit({ producedBytes: 1_000_000, subnets, sessionsPerSubnet: per });
        return c > acc.credit ? { credit: c, per } : acc;
      },
      { credit: 0, per: 0 },
    );
    const worth = best.credit / 1_000_000; // in viewers' worth
    const [fake] = epochRewards(100, [
      { nodeId: "fake", creditedBytes: best.credit, quality: 1 },
      { nodeId: "honest", creditedBytes: honestViewers * 1_000_000, quality: 1 },
    ]);
    return `| ${label} | ${best.per} | ${worth.toLocaleString("en-US")} | ${(fake?.tokens ?? 0).toFixed(1)} % |`;
  });
  return [
    "| subnets held | best sessions per subnet | credited (viewers' worth) | share of the budget against 100 honest viewers |",
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
