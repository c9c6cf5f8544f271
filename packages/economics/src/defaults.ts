/**
 * The model's assumptions, each named with its unit and why. Everything here
 * can be overridden per call (and per `streamrp2p economics` flag); nothing
 * here is a protocol value two parties must agree on.
 */
export const ECONOMICS_DEFAULTS = {
  /**
   * USD per EUR used to put Hetzner's EUR prices next to DigitalOcean's USD
   * ones. An explicit, fixed rate so the model's output is reproducible; pass
   * today's rate (`--usd-per-eur`) for a decision that matters.
   */
  usdPerEur: 1.08, // USD per EUR
  /** USD value of one reward token (the pool's ERC-20); 1 for a USD stablecoin. */
  tokenUsd: 1, // USD per token
  /** What the stake could earn elsewhere: its opportunity cost. */
  stakeYieldPerYear: 0.05, // fraction per year
  /** A month, as the model counts it (providers bill up to 730 h; Terraform spreads egress over 30 days). */
  hoursPerMonth: 30 * 24, // h
  /** Bytes in a GB, as the providers bill traffic. */
  bytesPerGb: 1e9, // bytes
} as const;

export interface Rates {
  /** USD per EUR. */
  usdPerEur: number;
}

export const DEFAULT_RATES: Rates = { usdPerEur: ECONOMICS_DEFAULTS.usdPerEur };
