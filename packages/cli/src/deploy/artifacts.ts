import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type DeployParams, NodeConfigSchema } from "@streamrp2p/protocol";
import { renderNodeConfig } from "../node-config.ts";
import { cloudInit } from "./cloud-init.ts";
import { dockerfile, dockerignore } from "./docker.ts";
import { relayUnit, updateService, updateTimer, VM_PATHS } from "./systemd.ts";
import { PROVIDERS, terraformModule } from "./terraform.ts";

export const DEPLOY_TARGETS = ["cloud-init", "systemd", "docker", "terraform", "all"] as const;
export type DeployTarget = (typeof DEPLOY_TARGETS)[number];

/** The relay config a deployed node runs with (its public URL comes from the VM at boot). */
export function vmRelayConfig(p: DeployParams): string {
  return renderNodeConfig(
    NodeConfigSchema.parse({
      coordinator: p.coordinator,
      host: "0.0.0.0",
      port: p.port,
      region: p.region ?? "local",
      support: p.support,
      dataDir: VM_PATHS.state,
    }),
  );
}

/** The repository this checkout came from, as the default the VM clones. */
export function defaultRepo(): string | undefined {
  try {
    return (
      execFileSync("git", ["config", "--get", "remote.origin.url"], { encoding: "utf8" }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** Every file a target needs, by path relative to the output directory. */
export function deployArtifacts(target: DeployTarget, p: DeployParams): Record<string, string> {
  const files: Record<string, string> = {};
  const want = (t: DeployTarget) => target === "all" || target === t;
  const relayYaml = vmRelayConfig(p);
  if (want("cloud-init")) {
    files["cloud-init/user-data.yaml"] = cloudInit({
      repo: p.repo,
      ref: p.ref,
      port: String(p.port),
      relayYaml,
    });
  }
  if (want("systemd")) {
    files[`systemd/${VM_PATHS.unit}`] = relayUnit();
    files[`systemd/${VM_PATHS.updateService}`] = updateService();
    files[`systemd/${VM_PATHS.updateTimer}`] = updateTimer();
    files["systemd/relay.yaml"] = relayYaml;
  }
  if (want("docker")) {
    files["docker/Dockerfile"] = dockerfile(p.port);
    // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile when the context is the repo root.
    files["docker/Dockerfile.dockerignore"] = dockerignore();
  }
  if (want("terraform")) {
    // --region/--size belong to --provider, or to the provider that sells --size.
    const chosen =
      p.provider ??
      Object.values(PROVIDERS).find((x) => p.size !== undefined && x.prices[p.size] !== undefined)?.name ??
      "digitalocean";
    for (const provider of Object.values(PROVIDERS)) {
      const isThis = provider.name === chosen;
      const module = terraformModule(provider, {
        coordinator: p.coordinator,
        support: p.support,
        port: p.port,
        repo: p.repo,
        ref: p.ref,
        // Region and size given for one provider do not apply to the other.
        region: isThis ? p.region : undefined,
        size: isThis ? p.size : undefined,
        monthlyCap: p.monthlyCap,
      });
      for (const [name, text] of Object.entries(module)) files[`terraform/${provider.name}/${name}`] = text;
    }
  }
  return files;
}

export function writeArtifacts(outDir: string, files: Record<string, string>): string[] {
  const written: string[] = [];
  for (const [rel, text] of Object.entries(files)) {
    const path = join(outDir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(path);
  }
  return written;
}
