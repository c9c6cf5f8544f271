import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Outcomes } from "./outcomes.ts";
import type { RunStats } from "./simulation.ts";
import { lineChart, shareBars } from "./svg.ts";

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const usd = (x: number) => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(2)}`;
const n0 = (x: number) => Math.round(x).toLocaleString("en-US");

/** Writes `<dir>/<name>.md` with its SVG charts beside it; returns the Markdown path. */
export async function writeReport(dir: string, o: Outcomes, stats: RunStats): Promise<string> {
  await mkdir(dir, { recursive: true });
  const xs = stats.series.map((p) => p.t / 60_000);
  const charts: Record<string, string> = {
    viewers: lineChart(
      "Concurrent viewers",
      xs,
      stats.series.map((p) => p.viewers),
      "viewers",
    ),
    stall: lineChart(
      "Honest viewers' stall ratio (per tick)",
      xs,
      stats.series.map((p) => p.stallRatio),
      "stall",
    ),
    relays: lineChart(
      "Relays carrying streams (node×stream)",
      xs,
      stats.series.map((p) => p.relays),
      "carriers",
    ),
    shares: shareBars("Attacker: share of rewards vs share of honestly served bytes", [
      { label: "share of nodes", value: o.attackerNodes / Math.max(1, o.nodes), color: "#888" },
      { label: "share of honest bytes", value: o.attackerHonestByteShare, color: "#16a34a" },
      { label: "share of rewards", value: o.attackerRewardShare, color: "#dc2626" },
    ]),
  };
  for (const [k, svg] of Object.entries(charts)) await writeFile(join(dir, `${o.name}-${k}.svg`), svg);
  const img = (k: string) => `![${k}](${o.name}-${k}.svg)`;
  const md = [
    `# Simulation: ${o.name}`,
    "",
    `Attack: **${o.attack}**; ${n0(o.nodes)} nodes (${n0(o.attackerNodes)} attacker's); ${n0(o.sessions)} honest sessions; ${n0(o.fakeSessions)} fake sessions (${n0(o.fakeTicketsRefused)} tickets refused).`,
    "",
    "## Money",
    "",
    "| figure | value |",
    "|---|---|",
    `| attacker share of rewards | ${pct(o.attackerRewardShare)} |`,
    `| attacker share of honestly served bytes | ${pct(o.attackerHonestByteShare)} |`,
    `| attacker rewards | ${usd(o.attackerRewardUsd)} of ${usd(o.totalRewardUsd)} paid |`,
    `| attacker costs (nodes, egress, stake yield, slashing, address blocks) | ${usd(o.attackerCostUsd)} |`,
    `| attacker profit after stake and costs | ${usd(o.attackerProfitUsd)} |`,
    `| rewards beyond the attacker's share of honest bytes (the attack's gain) | ${usd(o.attackGainUsd)} |`,
    `| the attack's own profit (gain minus address blocks and slashed stake) | ${usd(o.attackProfitUsd)} |`,
    `| credit to attacker nodes beyond bytes they served | ${(o.attackerExcessCreditBytes / 1e9).toFixed(3)} GB (identity cap for one address block: ${(o.identityCapBytes / 1e9).toFixed(2)} GB) |`,
    `| proven tamper (node, stream) pairs | ${o.provenTamperPairs} |`,
    ...(o.liarIngestShare === undefined
      ? []
      : [
          `| ingest slots held by capacity liars | ${pct(o.liarIngestShare)} (they are ${pct(o.liarIngestCapableShare ?? 0)} of ingest-capable nodes) |`,
        ]),
    "",
    img("shares"),
    "",
    "## Viewers",
    "",
    "| figure | value |",
    "|---|---|",
    `| honest viewers' stall ratio | ${pct(o.honestStallRatio)} |`,
    `| startup time p50 / p95 | ${n0(o.startupP50Ms)} ms / ${n0(o.startupP95Ms)} ms |`,
    `| failovers per session | ${o.failoversPerSession.toFixed(3)} |`,
    "",
    img("viewers"),
    "",
    img("stall"),
    "",
    "## Egress",
    "",
    `Origin → ingest: ${o.originEgressGB.toFixed(1)} GB; ingest relays' egress: ${o.ingestEgressGB.toFixed(1)} GB; all relays: ${o.totalEgressGB.toFixed(1)} GB.`,
    "",
    img("relays"),
    "",
    "## Coordinator work per epoch",
    "",
    "| figure | value |",
    "|---|---|",
    `| heartbeats | ${n0(o.work.heartbeatsPerEpoch)} |`,
    `| viewer routing requests | ${n0(o.work.routeRequestsPerEpoch)} |`,
    `| upstream choices | ${n0(o.work.upstreamChoicesPerEpoch)} |`,
    `| probes | ${n0(o.work.probesPerEpoch)} |`,
    `| receipt updates (latest per session and node) | ${n0(o.work.receiptsPerEpoch)} |`,
    `| receipts signed and verified with real Ed25519 (sample) | ${n0(o.work.realReceiptsVerified)} at ${o.work.verifyUsPerReceipt.toFixed(1)} µs each |`,
    `| epoch computation + reward split, worst epoch | ${o.work.epochComputeMsMax.toFixed(0)} ms |`,
    "",
    "| epoch | sessions | receipts | compute ms | withheld GB | paid |",
    "|---|---|---|---|---|---|",
    ...o.epochs.map(
      (e) =>
        `| ${e.epoch} | ${n0(e.sessions)} | ${n0(e.receipts)} | ${e.computeMs.toFixed(0)} | ${e.withheldGB.toFixed(3)} | ${usd(e.paidUsd)} |`,
    ),
    "",
    "## The simulator itself",
    "",
    `Wall time ${(o.wallMs / 1000).toFixed(1)} s; peak RSS ${o.peakRssMiB.toFixed(0)} MiB.`,
    "",
  ].join("\n");
  const path = join(dir, `${o.name}.md`);
  await writeFile(path, md);
  return path;
}
