import { chainHelp, runClaim, runNode, runPool } from "./cmd-chain.ts";
import { coordinatorHelp, runCoordinator } from "./cmd-coordinator.ts";
import { deployHelp, runDeploy } from "./cmd-deploy.ts";
import { economicsHelp, runEconomics } from "./cmd-economics.ts";
import { originHelp, runOrigin } from "./cmd-origin.ts";
import { relayHelp, runRelay } from "./cmd-relay.ts";
import { runSim, simHelp } from "./cmd-sim.ts";
import { runUp, upHelp } from "./cmd-up.ts";

const commands: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  up: { run: runUp, help: upHelp },
  coordinator: { run: runCoordinator, help: coordinatorHelp },
  relay: { run: runRelay, help: relayHelp },
  deploy: { run: runDeploy, help: deployHelp },
  economics: { run: runEconomics, help: economicsHelp },
  origin: { run: runOrigin, help: originHelp },
  pool: { run: runPool, help: chainHelp },
  node: { run: runNode, help: chainHelp },
  claim: { run: runClaim, help: chainHelp },
  sim: { run: runSim, help: simHelp },
};

const usage = `streamrp2p — decentralized live-video delivery ("restreaming as support")

${Object.values(commands)
  .map((c) => c.help)
  .join("\n\n")}`;

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command || rest.includes("--help")) {
  console.log(command ? command.help : usage);
  process.exit(command || name === "--help" || name === undefined ? 0 : 2);
}
try {
  await command.run(rest);
  process.exit(0);
} catch (err) {
  console.error(`streamrp2p ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
