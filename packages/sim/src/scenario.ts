import { readFile } from "node:fs/promises";
import { COORDINATOR_DEFAULTS } from "@streamrp2p/coordinator";
import { parse } from "yaml";
import { z } from "zod";

const share = z.number().min(0).max(1);
const ms = z.number().int().positive();

/** Regions (the coordinator's vocabulary) with the share of nodes or viewers in each. */
const RegionMix = z.record(z.string(), z.number().positive());
const DEFAULT_REGIONS = {
  "eu-west": 0.3,
  "us-east": 0.3,
  "us-west": 0.1,
  "ap-northeast": 0.2,
  "sa-east": 0.1,
};

/**
 * Attacks, each played by one operator's nodes (and, for fake viewers, its
 * viewer identities) among honest ones. `share`: the attacker's share of nodes.
 */
const Attack = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  /** One operator runs `share` of all nodes, each honest in delivery. */
  z.strictObject({ kind: z.literal("sybil"), share: share.default(0.2) }),
  /**
   * Fake viewers run by the operator of `nodes` attacker nodes: `sessionsPerEpoch` tickets
   * from one IPv4 /24 or one IPv6 /48, each signing receipts for a full stream's bytes
   * never sent, to the operator's own nodes.
   */
  z.strictObject({
    kind: z.literal("fake-viewers"),
    nodes: z.number().int().positive().default(10),
    sessionsPerEpoch: z.number().int().positive().default(200),
    addressing: z.enum(["ipv4-24", "ipv6-48"]).default("ipv4-24"),
  }),
  /** Nodes that recognise probes with probability `detect` and serve viewers at `viewerRate` of the bitrate. */
  z.strictObject({
    kind: z.literal("probe-gaming"),
    share: share.default(0.1),
    detect: share.default(1),
    viewerRate: share.default(0.6),
  }),
  /** Ingest-capable nodes declaring `declaredMbps` on lines of `trueMbps`. */
  z.strictObject({
    kind: z.literal("capacity-lie"),
    share: share.default(0.05),
    declaredMbps: z.number().positive().default(10_000),
    trueMbps: z.number().positive().default(50),
  }),
  /** All nodes supporting only one streamer (`share` of nodes) go dark at `atMs`. */
  z.strictObject({ kind: z.literal("starvation"), share: share.default(0.2), atMs: ms.optional() }),
  /** Nodes that corrupt `rate` of the segments they serve (to viewers and probes alike). */
  z.strictObject({ kind: z.literal("tamper"), share: share.default(0.05), rate: share.default(0.2) }),
]);

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(""),
  seed: z.number().int().default(1),
  durationMs: ms,
  /** Delivery, heartbeat and routing-state granularity of the simulation. */
  tickMs: ms.default(10_000),
  nodes: z.strictObject({
    count: z.number().int().positive(),
    regions: RegionMix.default(DEFAULT_REGIONS),
    /** True egress capacity, log-uniform in [min, max] Mbit/s; nodes declare it honestly unless attacking. */
    capacityMbps: z.strictObject({ min: z.number().positive(), max: z.number().positive() }).default({
      min: 50,
      max: 1_000,
    }),
    ingestShare: share.default(0.2),
    /** Mean time between a node's failures and mean length of an outage (exponential). */
    mtbfMs: ms.default(12 * 60 * 60_000),
    downMs: ms.default(10 * 60_000),
  }),
  streams: z.strictObject({
    count: z.number().int().positive(),
    zipfS: z.number().nonnegative().default(1),
    bitrateMbps: z.number().positive().default(3),
    segmentMs: ms.default(2_000),
    /** Streams go live at random times within this window from the start (the first at 0). */
    startWithinMs: z
      .number()
      .int()
      .nonnegative()
      .default(5 * 60_000),
  }),
  viewers: z.strictObject({
    /** Sessions started over the whole run. */
    total: z.number().int().nonnegative(),
    meanWatchMs: ms.default(20 * 60_000),
    regions: RegionMix.default(DEFAULT_REGIONS),
    /** Arrival rate peaks at `peakAtMs` (a day's evening) with this depth of variation, 0 flat. */
    peakAtMs: z.number().int().nonnegative().optional(),
    diurnalDepth: share.default(0.7),
  }),
  /** One stream going from `from` to `to` concurrent viewers in `rampMs` starting at `atMs`. */
  flash: z
    .strictObject({
      from: z.number().int().nonnegative(),
      to: z.number().int().positive(),
      atMs: z.number().int().nonnegative(),
      rampMs: ms,
    })
    .optional(),
  player: z
    .strictObject({
      /** Media the player buffers ahead before and while playing. */
      bufferMs: ms.default(6_000),
      /**
       * A node delivering less than this share of real time is left for the next candidate
       * (its segments take over twice their duration: the loader's timeout, not mere slowness).
       */
      minRate: share.default(0.5),
      /** Time lost on a failover (timeout or refused connection, then the next node's first segment). */
      failoverMs: ms.default(1_500),
      /** Per-viewer download speed, Mbit/s (the viewer's own line). */
      downlinkMbps: z.number().positive().default(25),
    })
    .default({ bufferMs: 6_000, minRate: 0.5, failoverMs: 1_500, downlinkMbps: 25 }),
  coordinator: z
    .strictObject({
      epochMs: ms.default(COORDINATOR_DEFAULTS.epochMs),
      probeIntervalMs: ms.default(COORDINATOR_DEFAULTS.probeIntervalMs),
      /** Each node carrying a stream probed about this often, within maxProbesPerSecond (the prober's schedule). */
      probeEachNodeMs: z.number().int().nonnegative().default(COORDINATOR_DEFAULTS.probeEachNodeMs),
      maxProbesPerSecond: z.number().nonnegative().default(COORDINATOR_DEFAULTS.maxProbesPerSecond),
      /** Sessions (of every 1,000) whose tickets and receipts are signed and verified with real Ed25519. */
      realCryptoPerMille: z.number().int().min(0).max(1000).default(1),
    })
    .default({
      epochMs: COORDINATOR_DEFAULTS.epochMs,
      probeIntervalMs: COORDINATOR_DEFAULTS.probeIntervalMs,
      probeEachNodeMs: COORDINATOR_DEFAULTS.probeEachNodeMs,
      maxProbesPerSecond: COORDINATOR_DEFAULTS.maxProbesPerSecond,
      realCryptoPerMille: 1,
    }),
  economics: z
    .strictObject({
      /** What a stream's pool pays out per epoch, per honest viewer-hour watched in it (USD). */
      poolUsdPerViewerHour: z.number().nonnegative().default(0.03),
    })
    .default({ poolUsdPerViewerHour: 0.03 }),
  attack: Attack.default({ kind: "none" }),
});

export type Scenario = z.infer<typeof ScenarioSchema>;
export type AttackSpec = Scenario["attack"];

/** Reads and validates a scenario file (YAML or JSON). */
export async function loadScenario(path: string): Promise<Scenario> {
  return ScenarioSchema.parse(parse(await readFile(path, "utf8")));
}

/** A scenario shrunk by `factor` in nodes, streams and viewers (tests run small versions). */
export function scaled(s: Scenario, factor: number): Scenario {
  const n = (x: number) => Math.max(1, Math.round(x * factor));
  return {
    ...s,
    nodes: { ...s.nodes, count: n(s.nodes.count) },
    streams: { ...s.streams, count: n(s.streams.count) },
    viewers: { ...s.viewers, total: n(s.viewers.total) },
    flash: s.flash && { ...s.flash, from: n(s.flash.from), to: n(s.flash.to) },
  };
}
