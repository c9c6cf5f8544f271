import { DeployParamsSchema, parseWith } from "@streamrp2p/protocol";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import {
  DEPLOY_TARGETS,
  type DeployTarget,
  defaultRepo,
  deployArtifacts,
  writeArtifacts,
} from "./deploy/artifacts.ts";
import { startLocalNodes, stopLocalNodes } from "./deploy/local.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const deployHelp = `streamrp2p deploy [--target all|cloud-init|systemd|docker|terraform] [--out deploy] --coordinator URL
                  [--support STREAM_OR_STREAMER] [--port 8080] [--provider digitalocean|hetzner] [--region R] [--size S]
                  [--monthly-cap 10]
                  [--repo GIT_URL] [--ref main]
  Writes what a fresh VM needs to run a node: cloud-init user-data (Node.js and ffmpeg from Debian 13, the
  relay as a systemd service restarting on failure, daily self-update, the port opened), systemd units,
  a Dockerfile, and Terraform modules for DigitalOcean and Hetzner (region, size, streamer, monthly cap).
streamrp2p deploy --local N --coordinator URL [--support STREAM_OR_STREAMER] [--port-base 8100] [--data-dir .data/deploy-local]
  Starts N nodes on this machine as separate processes (each from its own config and key) that join the
  network; Ctrl-C drains and stops them.`;

export async function runDeploy(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    target: { type: "string" },
    out: { type: "string" },
    coordinator: { type: "string" },
    support: { type: "string", multiple: true },
    port: { type: "string" },
    region: { type: "string" },
    size: { type: "string" },
    provider: { type: "string" },
    "monthly-cap": { type: "string" },
    repo: { type: "string" },
    ref: { type: "string" },
    local: { type: "string" },
    "port-base": { type: "string" },
    "data-dir": { type: "string" },
  });
  const support = ((flags.support as string[] | undefined) ?? []).flatMap((s) => s.split(","));
  const coordinator = stringFlag(flags, "coordinator", process.env.SRP_COORDINATOR ?? "");
  if (!coordinator) throw new Error(`--coordinator URL is required\n\n${deployHelp}`);

  if (flags.local !== undefined) {
    const count = intFlag(flags, "local", 0);
    if (count < 1 || count > 64) throw new Error("--local N: 1 to 64 nodes");
    const say = (line: string) => console.log(`[deploy] ${line}`);
    say(`starting ${count} nodes joining ${coordinator}…`);
    const nodes = await startLocalNodes({
      count,
      coordinator,
      support,
      portBase: intFlag(flags, "port-base", 8100),
      dataDir: stringFlag(flags, "data-dir", ".data/deploy-local"),
      say,
    });
    say(`${nodes.length} nodes up; Ctrl-C drains and stops them`);
    await stopOnSignal(() => stopLocalNodes(nodes));
    say("all nodes stopped");
    return;
  }

  const target = stringFlag(flags, "target", "all") as DeployTarget;
  if (!DEPLOY_TARGETS.includes(target))
    throw new Error(`--target must be one of ${DEPLOY_TARGETS.join(", ")}`);
  const remote = defaultRepo();
  const repo = stringFlag(flags, "repo", remote ?? "");
  if (!repo)
    throw new Error("--repo GIT_URL is required: where the VM installs StreamrP2P from (no git remote here)");
  if (flags.repo === undefined && !DeployParamsSchema.shape.repo.safeParse(repo).success)
    throw new Error(
      `--repo GIT_URL is required: this checkout's origin (${repo}) is not a URL a VM can clone`,
    );
  const params = parseWith(
    DeployParamsSchema,
    {
      coordinator,
      support,
      port: flags.port,
      repo,
      ref: flags.ref,
      region: flags.region,
      size: flags.size,
      provider: flags.provider,
      monthlyCap: flags["monthly-cap"],
    },
    "deploy options",
  );
  const out = stringFlag(flags, "out", "deploy");
  const written = writeArtifacts(out, deployArtifacts(target, params));
  for (const f of written) console.log(`wrote ${f}`);
  console.log(`\nnext: see docs/deploy.md (cloud-init user-data, systemd, docker build, terraform apply)`);
}
