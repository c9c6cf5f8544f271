import { COORDINATOR_DEFAULTS } from "@streamrp2p/coordinator/defaults";
import { z } from "zod";
import { ECONOMICS_DEFAULTS } from "./defaults.ts";

// Flags and env give strings: a decimal number, nothing else ("" is not 0, "1e3" is 1000).
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const num = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : NUMBER_TEXT.test(v.trim()) ? Number(v) : Number.NaN;
    if (Number.isFinite(n)) return n;
    ctx.addIssue({ code: "custom", message: `must be a number (got ${JSON.stringify(v)})` });
    return z.NEVER;
  });
const nonNegative = () => num().pipe(z.number().min(0));

/**
 * An operator's question as data: this instance, this stream's budget and
 * audience, this stake. Flags and JSON give strings or numbers; every value
 * is checked here, with its unit, once.
 */
export const ScenarioSchema = z
  .object({
    provider: z.enum(["digitalocean", "hetzner"]).default("hetzner"),
    /** Instance size; default: the provider's smallest priced size the Terraform module defaults to. */
    size: z.string().min(1).optional(),
    /** Region (location); default: any region the price holds in. */
    region: z.string().min(1).optional(),
    /** The stream pool's per-epoch budget, tokens. */
    budgetPerEpoch: nonNegative(),
    /** Epoch length, minutes (the coordinator's default epoch). */
    epochMinutes: num()
      .pipe(
        z
          .number()
          .positive()
          .max(24 * 60),
      )
      .default(COORDINATOR_DEFAULTS.epochMs / 60_000),
    /** Hours a month the stream is live: only epochs with credited bytes draw from the pool. */
    liveHoursPerMonth: num().pipe(z.number().min(0).max(ECONOMICS_DEFAULTS.hoursPerMonth)).default(120),
    /** Bitrate of the rendition a viewer watches, Mbit/s. */
    bitrateMbps: num().pipe(z.number().positive().max(1_000)).default(3),
    /** Concurrent viewers this node serves while the stream is live. */
    viewers: nonNegative().default(50),
    /** Concurrent viewers every other node serves on the stream (they share the budget). */
    otherViewers: nonNegative().default(0),
    /** This node's quality factor (probes × uptime), [0, 1]. */
    quality: num().pipe(z.number().min(0).max(1)).default(1),
    /** The other nodes' mean quality factor, [0, 1]. */
    otherQuality: num().pipe(z.number().min(0).max(1)).default(1),
    /** Child relays this node feeds the stream to: egress no viewer signs for. */
    relayChildren: nonNegative().default(0),
    /** Backers' share of the node's reward, basis points. */
    backerBps: num().pipe(z.number().int().min(0).max(10_000)).default(0),
    /** What the backers pay the operator per month, USD. */
    backerPaysUsd: nonNegative().default(0),
    /** The node's stake, tokens. */
    stake: nonNegative().default(0),
    tokenUsd: nonNegative().default(ECONOMICS_DEFAULTS.tokenUsd),
    usdPerEur: num().pipe(z.number().positive()).default(ECONOMICS_DEFAULTS.usdPerEur),
    stakeYieldPerYear: num().pipe(z.number().min(0).max(10)).default(ECONOMICS_DEFAULTS.stakeYieldPerYear),
  })
  .strict();

export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Scenario = z.output<typeof ScenarioSchema>;
