import {
  breakEvenTable,
  type OperatorMonth,
  operatorMonth,
  type Scenario,
  ScenarioSchema,
} from "@streamrp2p/economics";
import { SrpError } from "@streamrp2p/protocol";
import { parseFlags } from "./args.ts";

/** Each scenario key is a flag of the same name in kebab-case: one schema, no second list to drift. */
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const SCENARIO_FLAGS = Object.keys(ScenarioSchema.shape).map((key) => ({ key, flag: kebab(key) }));

export const economicsHelp = `streamrp2p economics --budget-per-epoch TOKENS [--provider hetzner|digitalocean] [--size S] [--region R]
                     [--viewers 50] [--other-viewers 0] [--bitrate-mbps 3] [--live-hours-per-month 120]
                     [--epoch-minutes 60] [--quality 1] [--other-quality 1] [--relay-children 0]
                     [--backer-bps 0] [--backer-pays-usd 0] [--stake 0] [--token-usd 1] [--usd-per-eur 1.08]
                     [--stake-yield-per-year 0.05] [--json]
  Will this instance, in this region, on this streamer's budget, pay for itself? A month of the node:
  its cost (list price, egress overage, the stake's forgone yield), its share of each live epoch's
  budget (split with its backers as the settler splits it), the net, and the break-even audience.
streamrp2p economics --table [--json]
  The break-even table of every priced instance (docs/economics.md).`;

export async function runEconomics(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    ...Object.fromEntries(SCENARIO_FLAGS.map((f) => [f.flag, { type: "string" as const }])),
    json: { type: "boolean" },
    table: { type: "boolean" },
  });
  if (flags.table) {
    const table = breakEvenTable();
    console.log(flags.json ? JSON.stringify(table, jsonNumbers, 2) : table.markdown);
    return;
  }
  const raw: Record<string, unknown> = {};
  for (const { key, flag } of SCENARIO_FLAGS) if (flags[flag] !== undefined) raw[key] = flags[flag];
  if (raw.budgetPerEpoch === undefined)
    throw new Error(
      `--budget-per-epoch TOKENS is required (the stream pool's budget per epoch)\n\n${economicsHelp}`,
    );
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    // Name the flag the user typed, not the schema key.
    const lines = parsed.error.issues.map((i) => `--${kebab(String(i.path[0] ?? "?"))}: ${i.message}`);
    throw new SrpError("VALIDATION_FAILED", lines.join("; "));
  }
  const scenario = parsed.data;
  const month = operatorMonth(scenario);
  console.log(flags.json ? JSON.stringify({ scenario, month }, jsonNumbers, 2) : render(scenario, month));
}

/** JSON has no Infinity: a break-even that is never reached is `null`. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

const usd = (x: number) => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(2)}`;
const gb = (x: number) => `${Math.round(x).toLocaleString("en-US")} GB`;

function render(s: Scenario, m: OperatorMonth): string {
  const p = m.profile;
  const rate = p.currency === "USD" ? "" : ` (at ${s.usdPerEur} USD/EUR)`;
  const be = m.breakEven;
  return [
    `${p.provider} ${p.size} (${s.region ?? p.regions.join(", ")}): ${p.monthly} ${p.currency}/month, ${gb(p.includedGb)} included, ${p.overagePerGb} ${p.currency}/GB after${rate}`,
    `stream: ${s.budgetPerEpoch} tokens/epoch × ${m.liveEpochs.toFixed(1)} live epochs of ${s.epochMinutes} min, ${s.bitrateMbps} Mbit/s; this node ${s.viewers} viewers (quality ${s.quality}), others ${s.otherViewers} (quality ${s.otherQuality})`,
    "",
    "per month",
    `  served (signed for)  ${gb(m.servedGb)}`,
    `  egress               ${gb(m.egressGb)}${s.relayChildren > 0 ? ` (incl. ${s.relayChildren} child relays)` : ""}`,
    `  reward               ${m.reward.tokens.toFixed(2)} tokens = ${usd(m.reward.tokens * s.tokenUsd)} (${usd(m.rewardUsdPerGb * 1000)}/TB served)`,
    `    operator           ${usd(m.reward.operatorUsd)}`,
    `    backers            ${usd(m.reward.backerUsd)} (${s.backerBps / 100} %)`,
    `  cost                 ${usd(m.cost.totalUsd)} (instance ${usd(m.cost.instanceUsd)}, overage ${usd(m.cost.overageUsd)}, stake's forgone yield ${usd(m.cost.stakeUsd)})`,
    `  operator net         ${usd(m.operatorNetUsd)}${s.backerPaysUsd > 0 ? ` (incl. ${usd(s.backerPaysUsd)} from backers)` : ""}`,
    `  backer net           ${usd(m.backerNetUsd)}`,
    "",
    m.paysForItself ? "PAYS FOR ITSELF" : "DOES NOT PAY FOR ITSELF",
    `break-even: ${be.viewers === null ? "no audience on this node pays for it (the budget is too small)" : `${be.viewers} concurrent viewers on this node (others unchanged)`}; ${Number.isFinite(be.gbAtThisRate) ? gb(be.gbAtThisRate) : "no traffic"} a month at this reward per GB`,
  ].join("\n");
}
