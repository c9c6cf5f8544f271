/**
 * How the simulator's wall time grows with the network: the same workload
 * shape (viewers and streams in proportion to nodes, 30 simulated minutes)
 * at 1k, 10k and 100k nodes. The 1k run is the reference measured in this
 * run; the growth figures are ratios to it. Ends with RESULT lines.
 */
import { runScenario, ScenarioSchema } from "@streamrp2p/sim";

const SIZES = (process.env.SIM_BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);

function scenarioFor(nodes: number) {
  return ScenarioSchema.parse({
    name: `bench-${nodes}`,
    seed: 1,
    durationMs: 30 * 60_000,
    tickMs: 30_000,
    nodes: { count: nodes },
    streams: { count: Math.max(5, Math.round(nodes / 20)) },
    viewers: { total: nodes * 5, meanWatchMs: 10 * 60_000 },
    coordinator: { epochMs: 15 * 60_000, realCryptoPerMille: 1 },
  });
}

const walls = new Map<number, number>();
for (const n of SIZES) {
  console.log(`sim bench: ${n} nodes, ${n * 5} sessions over 30 simulated minutes…`);
  const { outcomes } = await runScenario(scenarioFor(n), {
    onProgress: (line) => console.log(`  ${line}`),
  });
  if (outcomes.sessions === 0 || !(outcomes.wallMs > 0)) {
    console.error(`sim bench: the ${n}-node run did not measure (no sessions)`);
    process.exit(1);
  }
  walls.set(n, outcomes.wallMs);
  console.log(
    `  wall ${(outcomes.wallMs / 1000).toFixed(1)} s, peak RSS ${outcomes.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(`RESULT sim_wall_${n}_nodes ${(outcomes.wallMs / 1000).toFixed(2)} s`);
  console.log(`RESULT sim_peak_rss_${n}_nodes ${outcomes.peakRssMiB.toFixed(0)} MiB`);
}
const ref = SIZES[0] as number;
for (const n of SIZES.slice(1)) {
  const growth = (walls.get(n) as number) / (walls.get(ref) as number);
  console.log(`RESULT sim_wall_growth_${ref}_to_${n} ${growth.toFixed(2)} x (nodes x${n / ref})`);
}
