import { loadScenario, runScenario, scaled, writeReport } from "@streamrp2p/sim";
import { parseFlags, stringFlag } from "./args.ts";

export const simHelp = `streamrp2p sim <scenario.yaml> [--out sim-reports] [--scale 1]
  Runs a scenario on a virtual clock through the coordinator's real rules (routing, trees,
  receipts, plausibility and identity caps, probes, reputation, epochs, reward split) and
  writes <out>/<name>.md with SVG charts. --scale shrinks nodes, streams and viewers.
  Scenarios ship in packages/sim/scenarios/.`;

export async function runSim(argv: string[]): Promise<void> {
  const [path, ...rest] = argv;
  if (path === undefined || path.startsWith("--")) throw new Error("a scenario file is required");
  const flags = parseFlags(rest, { out: { type: "string" }, scale: { type: "string" } });
  const factor = Number(stringFlag(flags, "scale", "1"));
  if (!Number.isFinite(factor) || factor <= 0 || factor > 1) throw new Error("--scale must be in (0, 1]");
  const base = await loadScenario(path);
  const scenario = factor === 1 ? base : scaled(base, factor);
  const { outcomes, stats } = await runScenario(scenario, { onProgress: (line) => console.log(line) });
  const report = await writeReport(stringFlag(flags, "out", "sim-reports"), outcomes, stats);
  console.log(
    `[${scenario.name}] attacker reward share ${(outcomes.attackerRewardShare * 100).toFixed(2)}% vs honest-byte share ${(outcomes.attackerHonestByteShare * 100).toFixed(2)}%; attacker profit $${outcomes.attackerProfitUsd.toFixed(2)}; stall ${(outcomes.honestStallRatio * 100).toFixed(2)}%; wall ${(outcomes.wallMs / 1000).toFixed(1)} s; peak RSS ${outcomes.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(`report: ${report}`);
}
