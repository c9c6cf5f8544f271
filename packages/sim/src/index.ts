export { type Outcomes, outcomesOf } from "./outcomes.ts";
export { writeReport } from "./report.ts";
export { loadScenario, type Scenario, ScenarioSchema, scaled } from "./scenario.ts";
export { type RunStats, type SimOptions, Simulation } from "./simulation.ts";

import { outcomesOf } from "./outcomes.ts";
import type { Scenario } from "./scenario.ts";
import { type SimOptions, Simulation } from "./simulation.ts";

/** Runs a scenario to the end and returns its outcomes with the raw statistics. */
export async function runScenario(s: Scenario, options: SimOptions = {}) {
  const sim = new Simulation(s, options);
  const stats = await sim.run();
  return { sim, stats, outcomes: outcomesOf(sim, stats) };
}
