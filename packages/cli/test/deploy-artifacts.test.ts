import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadNodeConfig } from "@streamrp2p/cli";
import { NodeConfigSchema } from "@streamrp2p/protocol";
import { validate as lintDockerfile } from "dockerfile-utils";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { checkTerraformModule, renderTemplate } from "../../../test/support/terraform-schema.ts";
import { tempDir } from "../../../test/support/tools.ts";

const run = promisify(execFile);
const COORDINATOR = "https://coordinator.example.org";
const STREAMER = "0x00000000000000000000000000000000000000a1";

/** A validator from Debian's packages; the test command installs it (scripts/setup.sh cloud-init systemd). */
function tool(cmd: string, args: string[]): { status: number; output: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error)
    throw new Error(
      `${cmd} is required for this test: run scripts/setup.sh cloud-init systemd (${r.error.message})`,
    );
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

interface CloudConfig {
  packages: string[];
  write_files: Array<{ path: string; content: string }>;
  runcmd: string[][];
}

describe("streamrp2p deploy: one-click node artifacts, validated by the real tools", () => {
  let out: string;
  const read = (rel: string) => readFileSync(join(out, rel), "utf8");

  beforeAll(async () => {
    out = join(tempDir("deploy"), "out");
    await run(process.execPath, [
      "packages/cli/bin/streamrp2p.js",
      "deploy",
      "--out",
      out,
      "--coordinator",
      COORDINATOR,
      "--support",
      STREAMER,
      "--port",
      "8443",
      "--repo",
      "https://github.com/streamrp2p/streamrp2p.git",
      "--provider",
      "hetzner",
      "--region",
      "nbg1",
      "--size",
      "cx32",
      "--monthly-cap",
      "12",
    ]);
  });

  it("cloud-init user-data passes `cloud-init schema` and installs, configures and starts the node", () => {
    const file = join(out, "cloud-init/user-data.yaml");
    const r = tool("cloud-init", ["schema", "--config-file", file]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("Valid cloud-config");

    const doc = parseYaml(read("cloud-init/user-data.yaml")) as CloudConfig;
    expect(doc.packages).toEqual(expect.arrayContaining(["nodejs", "ffmpeg", "unattended-upgrades"]));
    const relayYaml = doc.write_files.find((f) => f.path === "/etc/streamrp2p/relay.yaml")?.content ?? "";
    const config = NodeConfigSchema.parse(parseYaml(relayYaml));
    expect(config).toMatchObject({
      coordinator: [COORDINATOR],
      support: [STREAMER],
      port: 8443,
      host: "0.0.0.0",
    });
    expect(doc.write_files.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        "/etc/systemd/system/streamrp2p-relay.service",
        "/etc/systemd/system/streamrp2p-update.timer",
      ]),
    );
    const commands = doc.runcmd.map((c) => c.join(" "));
    expect(commands).toContain("ufw allow 8443/tcp");
    expect(commands).toContain("ufw allow 80/tcp"); // ACME http-01
    // The boot command that names the VM's address, run here with a stand-in `hostname -I`:
    // the relay it configures serves HTTPS with an ACME certificate for that IP, no manual step.
    const envCmd = doc.runcmd.find((c) => c.join(" ").includes("SRP_TLS=acme"));
    expect(envCmd).toBeDefined();
    const vm = tempDir("deploy-env");
    writeFileSync(join(vm, "hostname"), "#!/bin/sh\necho '203.0.113.7 10.0.0.2'\n", { mode: 0o755 });
    const envFile = join(vm, "relay.env");
    const script = (envCmd?.[2] ?? "").replace("/etc/default/streamrp2p-relay", envFile);
    execFileSync("sh", ["-c", script], { env: { ...process.env, PATH: `${vm}:${process.env.PATH}` } });
    const env = Object.fromEntries(
      readFileSync(envFile, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split("=", 2) as [string, string]),
    );
    const yamlFile = join(vm, "relay.yaml");
    writeFileSync(yamlFile, relayYaml);
    const { config: booted } = loadNodeConfig({ argv: ["--config", yamlFile], env });
    expect(booted).toMatchObject({
      tls: "acme",
      acmeIdentifier: "203.0.113.7",
      acmeProfile: "shortlived",
      acmeChallengePort: 80,
      publicUrl: "https://203.0.113.7:8443",
    });
    expect(commands).toContain("systemctl enable --now streamrp2p-relay.service streamrp2p-update.timer");
  });

  it("the validator is live: a broken user-data fails `cloud-init schema`", () => {
    const bad = join(out, "bad-user-data.yaml");
    writeFileSync(bad, "#cloud-config\npackages: nodejs\nruncmd: 5\n");
    expect(tool("cloud-init", ["schema", "--config-file", bad]).status).not.toBe(0);
  });

  it("systemd units pass `systemd-analyze verify`; the unit restarts on failure and gives the drain its time", () => {
    const units = ["streamrp2p-relay.service", "streamrp2p-update.service", "streamrp2p-update.timer"].map(
      (u) => join(out, "systemd", u),
    );
    const r = tool("systemd-analyze", ["verify", ...units]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toMatch(/streamrp2p-(relay|update)/); // no warnings about our units
    const unit = read("systemd/streamrp2p-relay.service");
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    const stopSec = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
    const drain = NodeConfigSchema.parse({ coordinator: COORDINATOR }).drainTimeoutMs / 1000;
    expect(stopSec).toBeGreaterThan(drain);
    // The same config the VM gets, next to the units for hand installs.
    expect(NodeConfigSchema.parse(parseYaml(read("systemd/relay.yaml"))).support).toEqual([STREAMER]);

    const broken = join(out, "broken.service");
    writeFileSync(broken, unit.replace(/^ExecStart=.*$/m, "ExecStart=relative/streamrp2p"));
    expect(tool("systemd-analyze", ["verify", broken]).status).not.toBe(0);
  });

  it("the Dockerfile lints clean, copies only what exists, runs the relay unprivileged with a health check", () => {
    const text = read("docker/Dockerfile");
    expect(lintDockerfile(text)).toEqual([]);
    expect(lintDockerfile(`${text}\nFROBNICATE now\n`).length).toBeGreaterThan(0); // the linter is live
    for (const m of text.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const src of (m[1] as string).split(" ")) expect(existsSync(src), `COPY ${src}`).toBe(true);
    }
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK /m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "packages\/cli\/bin\/streamrp2p.js", "relay"\]$/m);
    expect(text).toMatch(/^EXPOSE 8443 80$/m);
    expect(read("docker/Dockerfile.dockerignore")).toMatch(/\*\*\/\*\.key/);
  });

  for (const provider of ["digitalocean", "hetzner"] as const) {
    it(`the ${provider} Terraform module passes the provider schema check and renders valid user-data`, async () => {
      const dir = `terraform/${provider}`;
      const names = ["main.tf", "variables.tf", "locals.tf", "user-data.yaml.tftpl"];
      const files = Object.fromEntries(names.map((n) => [n, read(`${dir}/${n}`)]));
      expect(await checkTerraformModule(files)).toEqual([]);
      for (const v of ["region", "size", "streamer", "monthly_cap"])
        expect(files["variables.tf"]).toContain(`variable "${v}"`);
      expect(files["main.tf"]).toMatch(/precondition/);
      if (provider === "hetzner") {
        expect(files["variables.tf"]).toMatch(/variable "region" \{[^}]*default\s+= "nbg1"/s);
        expect(files["variables.tf"]).toMatch(/variable "size" \{[^}]*default\s+= "cx32"/s);
      }

      // What templatefile() produces is valid cloud-config with a valid relay config.
      const rendered = renderTemplate(files["user-data.yaml.tftpl"] as string, {
        coordinator_url: COORDINATOR,
        support: [STREAMER],
        port: 8080,
        region: "fra1",
        capacity_mbps: 4,
        repo: "https://github.com/streamrp2p/streamrp2p.git",
        ref: "main",
      });
      const file = join(out, `${provider}-rendered.yaml`);
      writeFileSync(file, rendered);
      const r = tool("cloud-init", ["schema", "--config-file", file]);
      expect(r.status, r.output).toBe(0);
      const doc = parseYaml(rendered) as CloudConfig;
      const relay = NodeConfigSchema.parse(
        parseYaml(doc.write_files.find((f) => f.path === "/etc/streamrp2p/relay.yaml")?.content ?? ""),
      );
      expect(relay).toMatchObject({ coordinator: [COORDINATOR], support: [STREAMER], capacityMbps: 4 });
    });
  }

  it("the schema check is live: an unknown argument, a missing required one and an undeclared variable are reported", async () => {
    const files = {
      "main.tf": read("terraform/hetzner/main.tf")
        .replace("server_type  = var.size", "server_kind = var.size")
        .replace('labels       = { app = "streamrp2p" }', "labels = { app = var.nope }"),
      "variables.tf": read("terraform/hetzner/variables.tf"),
      "locals.tf": read("terraform/hetzner/locals.tf"),
      "user-data.yaml.tftpl": read("terraform/hetzner/user-data.yaml.tftpl"),
    };
    const problems = await checkTerraformModule(files);
    expect(problems).toEqual(
      expect.arrayContaining([
        "hcloud_server.relay: missing server_type",
        "hcloud_server.relay: unknown argument server_kind",
        "var.nope is used but not declared",
      ]),
    );
  });

  it("refuses bad deploy options with a clear error", async () => {
    const fail = (args: string[]) =>
      run(process.execPath, [
        "packages/cli/bin/streamrp2p.js",
        "deploy",
        "--out",
        join(out, "x"),
        ...args,
      ]).then(
        () => "accepted",
        (e: { stderr: string }) => e.stderr,
      );
    expect(await fail(["--coordinator", "ftp://x", "--repo", "https://github.com/a/b.git"])).toMatch(
      /coordinator/,
    );
    // Without --repo the checkout's origin is used, if a VM could clone it; here it is none or a local path.
    expect(await fail(["--coordinator", COORDINATOR])).toMatch(/--repo GIT_URL is required/);
    expect(
      await fail([
        "--coordinator",
        COORDINATOR,
        "--repo",
        "https://github.com/a/b.git",
        "--target",
        "ansible",
      ]),
    ).toMatch(/--target/);
    expect(
      await fail(["--coordinator", COORDINATOR, "--repo", "https://github.com/a/b.git", "--monthly-cap=-1"]),
    ).toMatch(/monthlyCap/);
  });
});
