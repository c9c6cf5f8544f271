/**
 * The normal evening at full size (10k nodes, 1M viewer sessions over a
 * simulated day): must finish within 10 minutes on a 2-core machine.
 * Writes its report to sim-reports/ and prints RESULT lines.
 */
import { fileURLToPath } from "node:url";
import { loadScenario, runScenario, writeReport } from "@streamrp2p/sim";

const path = fileURLToPath(new URL("../packages/sim/scenarios/normal-evening.yaml", import.meta.url));
const scenario = await loadScenario(path);
const { outcomes, stats } = await runScenario(scenario, { onProgress: (line) => console.log(line) });
if (outcomes.sessions < scenario.viewers.total * 0.9) {
  console.error(`bench:sim: only ${outcomes.sessions} sessions ran`);
  process.exit(1);
}
console.log(`report: ${await writeReport("sim-reports", outcomes, stats)}`);
console.log(`RESULT sim_evening_wall ${(outcomes.wallMs / 1000).toFixed(1)} s`);
console.log(`RESULT sim_evening_peak_rss ${outcomes.peakRssMiB.toFixed(0)} MiB`);
console.log(`RESULT sim_evening_sessions ${outcomes.sessions} sessions`);
console.log(`RESULT sim_evening_stall_ratio ${(outcomes.honestStallRatio * 100).toFixed(3)} %`);
console.log(`RESULT sim_evening_within_10_min ${outcomes.wallMs <= 600_000 ? 1 : 0} bool`);
