import { type Currency, type Provider, profilesOf } from "@streamrp2p/economics";
import { cloudInit } from "./cloud-init.ts";

/** What the Terraform module for one provider needs to know. */
export interface ProviderSpec {
  name: Provider;
  /** required_providers entry. */
  source: string;
  version: string;
  currency: Currency;
  defaultRegion: string;
  defaultSize: string;
  defaultImage: string;
  /** List prices per month and included egress (GB): the economic model's table (@streamrp2p/economics). */
  prices: Record<string, { monthly: number; includedGb: number }>;
  /** Price of egress beyond the included amount, per GB. */
  overagePerGb: number;
}

/** One provider's prices from the shared profile table; every size of a provider has one currency and overage price. */
function pricesOf(name: Provider): Pick<ProviderSpec, "currency" | "prices" | "overagePerGb"> {
  const rows = profilesOf(name);
  const first = rows[0];
  if (!first) throw new Error(`no priced profiles for ${name}`);
  for (const r of rows)
    if (r.currency !== first.currency || r.overagePerGb !== first.overagePerGb)
      throw new Error(`${name} ${r.size}: a module has one currency and one overage price`);
  return {
    currency: first.currency,
    prices: Object.fromEntries(rows.map((r) => [r.size, { monthly: r.monthly, includedGb: r.includedGb }])),
    overagePerGb: first.overagePerGb,
  };
}

export const PROVIDERS: Record<ProviderSpec["name"], ProviderSpec> = {
  digitalocean: {
    name: "digitalocean",
    source: "digitalocean/digitalocean",
    version: "~> 2.40",
    defaultRegion: "fra1",
    defaultSize: "s-1vcpu-1gb",
    defaultImage: "debian-13-x64",
    ...pricesOf("digitalocean"),
  },
  hetzner: {
    name: "hetzner",
    source: "hetznercloud/hcloud",
    version: "~> 1.48",
    defaultRegion: "fsn1",
    defaultSize: "cx22",
    defaultImage: "debian-13",
    ...pricesOf("hetzner"),
  },
};

export interface TerraformDefaults {
  coordinator: string;
  support: string[];
  port: number;
  repo: string;
  ref: string;
  region?: string | undefined;
  size?: string | undefined;
  monthlyCap: number;
}

const hcl = (v: unknown) => JSON.stringify(v); // HCL string and list literals are JSON-compatible

/** The relay config as a Terraform template: values come from the module's variables. */
function relayYamlTemplate(): string {
  return `# streamrp2p relay configuration (written by Terraform). Every key can also be set as SRP_<KEY>.
coordinator: \${jsonencode(coordinator_url)}
host: 0.0.0.0
port: \${port}
region: \${jsonencode(region)}
support: \${jsonencode(support)}
capacityMbps: \${capacity_mbps}
dataDir: /var/lib/streamrp2p
`;
}

/** user-data.yaml.tftpl: the same cloud-init as `deploy --target cloud-init`, with template slots. */
export function userDataTemplate(): string {
  const slot = (name: string) => `\${${name}}`; // a Terraform interpolation, not a JS one
  return cloudInit({
    repo: slot("repo"),
    ref: slot("ref"),
    port: slot("port"),
    relayYaml: relayYamlTemplate(),
  });
}

function variables(p: ProviderSpec, d: TerraformDefaults): string {
  const v = (
    name: string,
    type: string,
    description: string,
    def?: string | number | { raw: string },
    validation?: string,
  ) =>
    `variable "${name}" {
  type        = ${type}
  description = ${hcl(description)}${def === undefined ? "" : `\n  default     = ${typeof def === "object" ? def.raw : hcl(def)}`}${validation ?? ""}
}
`;
  return [
    v("coordinator_url", "string", "The StreamrP2P coordinator the node joins.", d.coordinator),
    v(
      "streamer",
      "string",
      "Stream id or streamer (0x signer) address to restream; empty restreams whatever the network needs.",
      d.support[0] ?? "",
    ),
    v("region", "string", `${p.name} region (location) of the VM.`, d.region ?? p.defaultRegion),
    v("size", "string", `${p.name} instance size; must be priced in local.prices.`, d.size ?? p.defaultSize),
    v(
      "monthly_cap",
      "number",
      `Most this node may cost per month, in ${p.currency}: the instance price must fit, and the egress the relay offers is capped so included plus paid traffic stays within it.`,
      d.monthlyCap,
      `
  validation {
    condition     = var.monthly_cap > 0
    error_message = "monthly_cap must be positive."
  }`,
    ),
    v("port", "number", "TCP port the relay serves on.", d.port),
    v("ssh_keys", "list(string)", "SSH key ids or fingerprints allowed to log in.", { raw: "[]" }),
    v("repo", "string", "Git repository the VM installs StreamrP2P from.", d.repo),
    v("ref", "string", "Branch the VM tracks for daily updates.", d.ref),
    v("name", "string", "Name of the VM and its firewall.", "streamrp2p-relay"),
    v("image", "string", "OS image: Debian 13 (Node.js 20 and ffmpeg from Debian).", p.defaultImage),
    v(
      "extra_prices",
      `map(object({ monthly = number, included_gb = number }))`,
      `Prices of sizes not in the built-in table (monthly in ${p.currency}, included egress in GB).`,
      { raw: "{}" },
    ),
  ].join("\n");
}

function locals(p: ProviderSpec): string {
  const width = Math.max(...Object.keys(p.prices).map((s) => hcl(s).length));
  const rows = Object.entries(p.prices)
    .map(
      ([size, x]) =>
        `    ${hcl(size).padEnd(width)} = { monthly = ${x.monthly}, included_gb = ${x.includedGb} }`,
    )
    .join("\n");
  return `locals {
  # List prices per month (${p.currency}) and included egress, as published when this module was written;
  # check the provider's pricing page and add sizes with var.extra_prices.
  prices = merge({
${rows}
  }, var.extra_prices)
  price = lookup(local.prices, var.size, null)
  # Egress the budget pays for in a month: included traffic plus what is left of the cap at ${p.overagePerGb} ${p.currency}/GB.
  egress_gb = local.price == null ? 0 : local.price.included_gb + max(0, var.monthly_cap - local.price.monthly) / ${p.overagePerGb}
  # Offered to the coordinator as capacity: that egress spread over a 30-day month, in Mbit/s.
  capacity_mbps = max(1, floor(local.egress_gb * 8000 / (30 * 24 * 3600)))
  support       = var.streamer == "" ? [] : [lower(var.streamer)]
  user_data = templatefile("\${path.module}/user-data.yaml.tftpl", {
    coordinator_url = var.coordinator_url
    support         = local.support
    port            = var.port
    region          = var.region
    capacity_mbps   = local.capacity_mbps
    repo            = var.repo
    ref             = var.ref
  })
}
`;
}

const budgetChecks = `  lifecycle {
    precondition {
      condition     = local.price != null
      error_message = "No price known for this size: add it with var.extra_prices."
    }
    precondition {
      condition     = local.price == null || local.price.monthly <= var.monthly_cap
      error_message = "This size costs more per month than monthly_cap."
    }
  }`;

/** The same outputs for every provider: where the node is, what it costs, what it offers. */
function outputs(server: string, p: ProviderSpec): string {
  return `output "public_url" {
  description = "Where viewers and relays reach the node."
  value       = "http://\${${server}.ipv4_address}:\${var.port}"
}

output "monthly_price" {
  description = "Instance list price per month (${p.currency})."
  value       = local.price == null ? null : local.price.monthly
}

output "capacity_mbps" {
  description = "Egress the node offers, from the monthly cap."
  value       = local.capacity_mbps
}`;
}

function mainTf(p: ProviderSpec): string {
  const versions = `terraform {
  required_version = ">= 1.5"
  required_providers {
    ${p.name === "hetzner" ? "hcloud" : "digitalocean"} = {
      source  = ${hcl(p.source)}
      version = ${hcl(p.version)}
    }
  }
}
`;
  const everywhere = `["0.0.0.0/0", "::/0"]`;
  if (p.name === "digitalocean") {
    return `${versions}
resource "digitalocean_droplet" "relay" {
  name      = var.name
  image     = var.image
  region    = var.region
  size      = var.size
  ssh_keys  = var.ssh_keys
  user_data = local.user_data
  tags      = ["streamrp2p"]

${budgetChecks}
}

resource "digitalocean_firewall" "relay" {
  name        = "\${var.name}-fw"
  droplet_ids = [digitalocean_droplet.relay.id]

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = ${everywhere}
  }
  inbound_rule {
    protocol         = "tcp"
    port_range       = tostring(var.port)
    source_addresses = ${everywhere}
  }
  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = ${everywhere}
  }
  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = ${everywhere}
  }
  outbound_rule {
    protocol              = "icmp"
    destination_addresses = ${everywhere}
  }
}

${outputs("digitalocean_droplet.relay", p)}
`;
  }
  return `${versions}
resource "hcloud_firewall" "relay" {
  name = "\${var.name}-fw"

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "22"
    source_ips = ${everywhere}
  }
  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = tostring(var.port)
    source_ips = ${everywhere}
  }
}

resource "hcloud_server" "relay" {
  name         = var.name
  image        = var.image
  location     = var.region
  server_type  = var.size
  ssh_keys     = var.ssh_keys
  user_data    = local.user_data
  firewall_ids = [hcloud_firewall.relay.id]
  labels       = { app = "streamrp2p" }

${budgetChecks}
}

${outputs("hcloud_server.relay", p)}
`;
}

/** The files of one provider's module, by file name. */
export function terraformModule(p: ProviderSpec, d: TerraformDefaults): Record<string, string> {
  return {
    "main.tf": mainTf(p),
    "variables.tf": variables(p, d),
    "locals.tf": locals(p),
    "user-data.yaml.tftpl": userDataTemplate(),
  };
}
