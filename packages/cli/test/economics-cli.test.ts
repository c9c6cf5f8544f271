import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { defaultProfiles, operatorMonth, ScenarioSchema } from "@streamrp2p/economics";
import { describe, expect, it } from "vitest";
import { PROVIDERS, terraformModule } from "../src/deploy/terraform.ts";

/** `streamrp2p economics …` as a process, as an operator runs it. */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["packages/cli/bin/streamrp2p.js", "economics", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("streamrp2p economics (a real process)", () => {
  it("answers in a table, and prints the same month as JSON", () => {
    const args = ["--budget-per-epoch", "1", "--provider", "hetzner", "--size", "cx22"];
    const human = cli(...args, "--viewers", "50", "--other-viewers", "100", "--stake", "1000");
    expect(human.status).toBe(0);
    expect(human.stdout).toContain("PAYS FOR ITSELF");
    expect(human.stdout).toMatch(/operator net\s+\$31\.74/);
    expect(human.stdout).toContain("break-even: 8 concurrent viewers on this node");

    const json = cli(...args, "--viewers", "50", "--other-viewers", "100", "--stake", "1000", "--json");
    expect(json.status).toBe(0);
    const out = JSON.parse(json.stdout);
    const expected = operatorMonth(
      ScenarioSchema.parse({ budgetPerEpoch: 1, size: "cx22", viewers: 50, otherViewers: 100, stake: 1000 }),
    );
    expect(out.month.operatorNetUsd).toBeCloseTo(expected.operatorNetUsd, 9);
    expect(out.month.breakEven.viewers).toBe(8);
    expect(out.scenario.epochMinutes).toBe(60);
  });

  it("prints a break-even never reached as null in JSON, and 'DOES NOT PAY' in the table", () => {
    const r = cli("--budget-per-epoch", "0.001", "--provider", "digitalocean", "--json");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.month.paysForItself).toBe(false);
    expect(out.month.breakEven.viewers).toBeNull();
    expect(cli("--budget-per-epoch", "0.001").stdout).toContain("DOES NOT PAY FOR ITSELF");
  });

  it.each([
    [[], /--budget-per-epoch TOKENS is required/],
    [["--budget-per-epoch", "abc"], /--budget-per-epoch: must be a number \(got "abc"\)/],
    [["--budget-per-epoch", ""], /--budget-per-epoch: must be a number \(got ""\)/],
    [["--budget-per-epoch", "1", "--quality", "2"], /--quality: Too big/],
    [["--budget-per-epoch", "1", "--backer-bps", "12.5"], /--backer-bps:/],
    [["--budget-per-epoch", "1", "--live-hours-per-month", "800"], /--live-hours-per-month:/],
    [["--budget-per-epoch", "1", "--provider", "aws"], /--provider:/],
    [["--budget-per-epoch", "1", "--size", "cx99"], /no price for hetzner size "cx99" \(priced: cx22/],
    [
      ["--budget-per-epoch", "1", "--provider", "digitalocean", "--region", "fsn1"],
      /no price .* in region "fsn1"/,
    ],
    [["--budget-per-epoch", "1", "--bogus", "1"], /Unknown option '--bogus'/],
  ])("refuses %j with a clear message and exit 1", (args, message) => {
    const r = cli(...args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^streamrp2p economics: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it("prints the break-even table docs/economics.md carries", () => {
    const r = cli("--table");
    expect(r.status).toBe(0);
    const doc = readFileSync("docs/economics.md", "utf8");
    expect(doc).toContain(r.stdout.trim());
    const json = JSON.parse(cli("--table", "--json").stdout);
    expect(json.rows).toHaveLength(defaultProfiles.length);
    expect(json.rows[0].gb[0]).toBeNull(); // DigitalOcean at $1/TB: never
  });

  it("the example in docs/economics.md is this command's real output", () => {
    const doc = readFileSync("docs/economics.md", "utf8");
    const r = cli(
      "--budget-per-epoch",
      "1",
      "--provider",
      "hetzner",
      "--size",
      "cx22",
      "--viewers",
      "50",
      "--other-viewers",
      "100",
      "--stake",
      "1000",
    );
    const indented = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => (l === "" ? "" : `    ${l}`))
      .join("\n");
    expect(doc).toContain(indented);
  });
});

describe("the Terraform modules price from the economic model's table", () => {
  const d = {
    coordinator: "https://c.example",
    support: [],
    port: 8080,
    repo: "r",
    ref: "main",
    monthlyCap: 10,
  };

  it("lists every profile of the provider with its price and included egress, as before the move", () => {
    const hetzner = terraformModule(PROVIDERS.hetzner, d)["locals.tf"] ?? "";
    // The rows the module had before the table moved to @streamrp2p/economics, byte for byte.
    expect(
      hetzner,
    ).toContain(`  # List prices per month (EUR) and included egress, as published when this module was written;
  # check the provider's pricing page and add sizes with var.extra_prices.
  prices = merge({
    "cx22"  = { monthly = 3.79, included_gb = 20000 }
    "cx32"  = { monthly = 6.8, included_gb = 20000 }
    "cx42"  = { monthly = 16.4, included_gb = 20000 }
    "cpx11" = { monthly = 4.35, included_gb = 20000 }
    "cpx21" = { monthly = 7.55, included_gb = 20000 }
    "cax11" = { monthly = 3.79, included_gb = 20000 }
  }, var.extra_prices)`);
    expect(hetzner).toContain("max(0, var.monthly_cap - local.price.monthly) / 0.001");
    const digitalocean = terraformModule(PROVIDERS.digitalocean, d)["locals.tf"] ?? "";
    expect(
      digitalocean,
    ).toContain(`  # List prices per month (USD) and included egress, as published when this module was written;
  # check the provider's pricing page and add sizes with var.extra_prices.
  prices = merge({
    "s-1vcpu-512mb-10gb" = { monthly = 4, included_gb = 500 }
    "s-1vcpu-1gb"        = { monthly = 6, included_gb = 1000 }
    "s-1vcpu-2gb"        = { monthly = 12, included_gb = 2000 }
    "s-2vcpu-2gb"        = { monthly = 18, included_gb = 3000 }
    "s-2vcpu-4gb"        = { monthly = 24, included_gb = 4000 }
    "s-4vcpu-8gb"        = { monthly = 48, included_gb = 5000 }
  }, var.extra_prices)`);
    expect(digitalocean).toContain("max(0, var.monthly_cap - local.price.monthly) / 0.01");
    for (const p of defaultProfiles)
      expect(PROVIDERS[p.provider].prices[p.size]).toEqual({ monthly: p.monthly, includedGb: p.includedGb });
  });
});
