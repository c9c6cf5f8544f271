import { z } from "zod";
import { SegmentAttestationSchema, SigningDomainSchema } from "./attestation.ts";
import { AddressSchema, StreamIdSchema } from "./ids.ts";
import { MAX_PARTS_PER_SEGMENT, PartAttestationSchema } from "./part-attestation.ts";
import { RegionSchema } from "./registration.ts";
import { MAX_RUNGS, RungNameSchema } from "./rendition.ts";
import { TicketSchema } from "./session.ts";
import { StreamEndSchema } from "./stream-end.ts";

/** A node as the coordinator hands it out (to viewers, relays and origins). */
export const NodeInfoSchema = z.strictObject({
  nodeId: AddressSchema,
  url: z.string(),
  region: RegionSchema,
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

export const StreamInfoSchema = z.strictObject({
  streamId: StreamIdSchema,
  signer: AddressSchema,
  /** Relays the origin pushes to. */
  ingest: z.array(NodeInfoSchema),
  createdAt: z.number().int(),
});
export type StreamInfo = z.infer<typeof StreamInfoSchema>;

export const NodeRegisteredSchema = z.strictObject({
  nodeId: AddressSchema,
  /** Bearer token for this node's heartbeats; rotates on every registration. */
  token: z.string().min(16),
  heartbeatIntervalMs: z.number().int().positive(),
});
export type NodeRegistered = z.infer<typeof NodeRegisteredSchema>;

export const StreamLoadSchema = z.strictObject({
  streamId: StreamIdSchema,
  upstream: AddressSchema.nullable(),
  /** Newest segment seq this node holds, -1 when none yet. */
  liveEdgeSeq: z.number().int().min(-1),
  viewers: z.number().int().nonnegative(),
});

/** The most streams one heartbeat may list: a relay reports its most active ones when it holds more. */
export const MAX_HEARTBEAT_STREAMS = 1000;

export const HeartbeatSchema = z.strictObject({
  nodeId: AddressSchema,
  /** Concurrent viewer and downstream connections. */
  // Bounded: every field a node reports is stored, and a database column has a range.
  connections: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 31 - 1),
  /** Egress over the last interval, bit/s. */
  egressBps: z.number().nonnegative().max(1e15),
  /** Bytes served since the node started. */
  bytesServed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  streams: z.array(StreamLoadSchema).max(MAX_HEARTBEAT_STREAMS),
  /** The node is leaving: route no new viewers or child relays to it. */
  draining: z.boolean().default(false),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
export type HeartbeatInput = z.input<typeof HeartbeatSchema>;

/**
 * How far (in segments) a relay may fall behind the stream's live edge, as the
 * coordinator's segment ledger knows it, before its upstream counts as lagging:
 * the relay re-parents, and the coordinator hands no child a relay that far
 * behind. Both sides compare against the same number, so it lives here. The
 * ledger's edge is read every few seconds and so is never ahead of a relay at
 * the true edge: a gap larger than this is real.
 */
export const UPSTREAM_LAG_SEGMENTS = 2;

/** The stream's live edge as the coordinator's segment ledger has it. */
export const StreamEdgeSchema = z.strictObject({
  streamId: StreamIdSchema,
  liveEdgeSeq: z.number().int().min(-1),
});
export type StreamEdge = z.infer<typeof StreamEdgeSchema>;

export const HeartbeatReplySchema = z.strictObject({
  /** Streams the coordinator wants this node to carry. */
  carry: z.array(StreamIdSchema).max(MAX_HEARTBEAT_STREAMS),
  /** Live edges of the carried streams (segment ledger): lag behind them means a lagging upstream. */
  edges: z.array(StreamEdgeSchema).max(MAX_HEARTBEAT_STREAMS).default([]),
});
export type HeartbeatReply = z.infer<typeof HeartbeatReplySchema>;

export const UpstreamRequestSchema = z.strictObject({
  nodeId: AddressSchema,
  /** Upstreams that just failed this node; never handed back at once. */
  exclude: z.array(AddressSchema).max(64).default([]),
});
export type UpstreamRequest = z.infer<typeof UpstreamRequestSchema>;

export const UpstreamAssignmentSchema = z.strictObject({
  streamId: StreamIdSchema,
  upstream: NodeInfoSchema,
  /** Hops from the origin: ingest relays are 1. */
  depth: z.number().int().positive(),
});
export type UpstreamAssignment = z.infer<typeof UpstreamAssignmentSchema>;

/** A relay offered to a viewer: `score` orders the list (higher first); `reasons` say why it is there. */
export const RankedNodeSchema = NodeInfoSchema.extend({
  score: z.number(),
  /** E.g. ["same-region", "spare 62%", "quality 0.97"]; absent from older coordinators. */
  reasons: z.array(z.string().max(64)).max(16).default([]),
});
export type RankedNode = z.infer<typeof RankedNodeSchema>;

export const RankedNodesSchema = z.strictObject({
  streamId: StreamIdSchema,
  nodes: z.array(RankedNodeSchema),
});
export type RankedNodes = z.infer<typeof RankedNodesSchema>;

/** One segment in a relay's window: its attestation and which init it decodes with. */
export const WindowSegmentSchema = z.strictObject({
  init: z.number().int().nonnegative(),
  attestation: SegmentAttestationSchema,
});
export type WindowSegment = z.infer<typeof WindowSegmentSchema>;

/**
 * A relay's live window, relay to relay (`window.json`): what the playlist
 * says, plus every attestation, so a downstream verifies before it serves.
 */
export const StreamWindowSchema = z.strictObject({
  streamId: StreamIdSchema,
  inits: z.array(SegmentAttestationSchema).max(64),
  segments: z.array(WindowSegmentSchema).max(10_000),
  end: StreamEndSchema.nullable(),
  /**
   * The transcoded rungs this node holds (source window only): where a
   * child finds their windows (`/live/:stream/:rung/window.json`). Not
   * signed, and needs not be: every object in them is attested for its rung.
   */
  renditions: z.array(RungNameSchema).max(MAX_RUNGS).optional(),
  /** LL-HLS parts after the ones the downstream said it has; only when it asked (`parts=`). */
  parts: z
    .array(PartAttestationSchema)
    .max(MAX_PARTS_PER_SEGMENT * 8)
    .optional(),
});
export type StreamWindow = z.infer<typeof StreamWindowSchema>;

export const CoordinatorInfoSchema = z.strictObject({
  /** base64url raw Ed25519 key that signs session tickets. */
  ticketPublicKey: z.string(),
  /** The deployment segment attestations and delivery signatures are bound to (EIP-712 chainId, verifyingContract). */
  domain: SigningDomainSchema,
});
export type CoordinatorInfo = z.infer<typeof CoordinatorInfoSchema>;

export const SessionRequestSchema = z.strictObject({
  viewerKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "viewerKey: base64url raw Ed25519 public key"),
  region: RegionSchema.optional(),
});

export const SessionGrantSchema = z.strictObject({
  ticket: TicketSchema,
  nodes: RankedNodesSchema.shape.nodes,
});
export type SessionGrant = z.infer<typeof SessionGrantSchema>;

/** One payee of a node's rewards; amounts are token base units as decimal strings. */
export const PayeeRewardsSchema = z.strictObject({
  account: AddressSchema,
  role: z.enum(["operator", "backer"]),
  bps: z.number().int().min(0).max(10_000),
  earned: z.string().regex(/^\d+$/),
  claimableCumulative: z.string().regex(/^\d+$/),
  claimed: z.string().regex(/^\d+$/),
  claimable: z.string().regex(/^\d+$/),
  pending: z.string().regex(/^\d+$/),
});
export type PayeeRewards = z.infer<typeof PayeeRewardsSchema>;

/** GET /v1/nodes/:id/status: what an operator or backer wants to know about a node. */
export const NodeStatusSchema = z.strictObject({
  nodeId: AddressSchema,
  url: z.string(),
  region: z.string(),
  ingest: z.boolean(),
  /** The node's support list (stream ids or streamer addresses); empty = any. */
  supports: z.array(z.string()),
  healthy: z.boolean(),
  draining: z.boolean(),
  lastHeartbeatAt: z.number(),
  connections: z.number(),
  egressBps: z.number(),
  capacityMbps: z.number(),
  bytesServed: z.number(),
  streams: z.array(StreamLoadSchema),
  viewers: z.number().int().nonnegative(),
  receipts: z.strictObject({
    sessions: z.number().int().nonnegative(),
    bytes: z.number().nonnegative(),
    /** Receipted but not yet in a closed epoch. */
    pendingBytes: z.number().nonnegative(),
  }),
  credited: z.strictObject({ bytes: z.number(), weight: z.number(), epochs: z.number().int() }),
  reputation: z.strictObject({
    success: z.number(),
    latency: z.number(),
    freshness: z.number(),
    uptime: z.number(),
    tampered: z.boolean(),
    quality: z.number(),
    probes: z.number(),
    explain: z.array(z.string()),
  }),
  /** The last epochs that credited the node. */
  epochs: z.array(
    z.strictObject({
      epoch: z.number().int(),
      nodeId: z.string(),
      streamId: z.string(),
      creditedBytes: z.number(),
      claimedBytes: z.number(),
      sessions: z.number(),
      subnets: z.number(),
      quality: z.number(),
      weight: z.number(),
      flags: z.array(z.string()),
    }),
  ),
  rewards: z
    .strictObject({ latestEpoch: z.number().int().nullable(), payees: z.array(PayeeRewardsSchema) })
    .nullable(),
  /** Why `rewards` is null. */
  rewardsError: z.string().nullable(),
});
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

/** The most replicas a watch page is told about. */
export const MAX_WATCH_REPLICAS = 64;

/** What the watch page asks its coordinator before it starts the player (GET /v1/watch-config). */
export const WatchConfigSchema = z.strictObject({
  /** The coordinator's other replicas; the page puts its own origin first. */
  replicaUrls: z.array(z.url({ protocol: /^https?$/ })).max(MAX_WATCH_REPLICAS),
});
export type WatchConfig = z.infer<typeof WatchConfigSchema>;
