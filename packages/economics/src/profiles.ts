/**
 * The priced instance profiles: ONE table, read by the Terraform generator
 * (packages/cli/src/deploy/terraform.ts) and by the economic model, so the
 * price a module checks a budget against is the price the model reckons with.
 * List prices as published when this table was written; check the provider's
 * pricing page before relying on them.
 */
import { SrpError } from "@streamrp2p/protocol";

export type Provider = "digitalocean" | "hetzner";
export type Currency = "USD" | "EUR";

export interface InstanceProfile {
  provider: Provider;
  /** The provider's size slug (DigitalOcean) or server type (Hetzner). */
  size: string;
  /** Regions (locations) where this list price and included egress apply. */
  regions: readonly string[];
  /** List price per month, in `currency`. */
  monthly: number;
  /** Egress included in the monthly price, GB (10^9 bytes) per month. */
  includedGb: number;
  /** Price of egress beyond the included amount, per GB, in `currency`. */
  overagePerGb: number;
  currency: Currency;
}

// DigitalOcean prices a size the same in every region.
const DO_REGIONS = [
  "nyc1",
  "nyc2",
  "nyc3",
  "sfo2",
  "sfo3",
  "tor1",
  "atl1",
  "ams3",
  "lon1",
  "fra1",
  "blr1",
  "sgp1",
  "syd1",
] as const;
// Hetzner's 20 TB of included traffic holds in its EU locations only (US and
// Singapore include less and are not priced here).
const HETZNER_EU = ["fsn1", "nbg1", "hel1"] as const;

const digitalocean = (size: string, monthly: number, includedGb: number): InstanceProfile => ({
  provider: "digitalocean",
  size,
  regions: DO_REGIONS,
  monthly,
  includedGb,
  overagePerGb: 0.01,
  currency: "USD",
});
const hetzner = (size: string, monthly: number): InstanceProfile => ({
  provider: "hetzner",
  size,
  regions: HETZNER_EU,
  monthly,
  includedGb: 20_000,
  overagePerGb: 0.001,
  currency: "EUR",
});

/** Every priced profile, in the order the Terraform modules list them. */
export const defaultProfiles: readonly InstanceProfile[] = [
  digitalocean("s-1vcpu-512mb-10gb", 4, 500),
  digitalocean("s-1vcpu-1gb", 6, 1000),
  digitalocean("s-1vcpu-2gb", 12, 2000),
  digitalocean("s-2vcpu-2gb", 18, 3000),
  digitalocean("s-2vcpu-4gb", 24, 4000),
  digitalocean("s-4vcpu-8gb", 48, 5000),
  hetzner("cx22", 3.79),
  hetzner("cx32", 6.8),
  hetzner("cx42", 16.4),
  hetzner("cpx11", 4.35),
  hetzner("cpx21", 7.55),
  hetzner("cax11", 3.79),
];

/** The profiles of one provider, in table order. */
export function profilesOf(provider: Provider, table: readonly InstanceProfile[] = defaultProfiles) {
  return table.filter((p) => p.provider === provider);
}

/**
 * The profile for (provider, size, region). Throws `VALIDATION_FAILED` naming
 * what is priced when the table has no such size, or no price for that region.
 */
export function findProfile(
  provider: string,
  size: string,
  region?: string,
  table: readonly InstanceProfile[] = defaultProfiles,
): InstanceProfile {
  const ofProvider = table.filter((p) => p.provider === provider);
  if (ofProvider.length === 0) {
    const known = [...new Set(table.map((p) => p.provider))].join(", ");
    throw new SrpError("VALIDATION_FAILED", `unknown provider "${provider}" (priced: ${known})`);
  }
  const profile = ofProvider.find((p) => p.size === size);
  if (!profile) {
    const known = ofProvider.map((p) => p.size).join(", ");
    throw new SrpError("VALIDATION_FAILED", `no price for ${provider} size "${size}" (priced: ${known})`);
  }
  if (region !== undefined && !profile.regions.includes(region)) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `no price for ${provider} ${size} in region "${region}" (priced in: ${profile.regions.join(", ")})`,
    );
  }
  return profile;
}
