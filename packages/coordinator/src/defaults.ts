/** Coordinator defaults, with units. */
export const COORDINATOR_DEFAULTS = {
  host: "127.0.0.1",
  port: 7700,
  /** SQLite file lives here; ":memory:" for a throwaway store. */
  dataDir: ".data/coordinator",
  heartbeatIntervalMs: 2_000, // ms, told to nodes at registration
  /** A node silent for this long is not routed to. */
  nodeTimeoutMs: 6_000, // ms
  /**
   * Node URLs accepted at registration: "public" (routable hosts only: the
   * prober and origins fetch them), "any", or "auto": any when this
   * coordinator listens on loopback (a local network), public otherwise.
   */
  nodeUrls: "auto" as "auto" | "public" | "any",
  /** Ingest relays an origin pushes each stream to. */
  ingestPerStream: 2,
  /** An ingest relay the stream's origin reported (signed) as not taking pushes is not its ingest for this long. */
  ingestExclusionMs: 60_000, // ms
  /** Relays a viewer is offered per request (at least 3 when 3 hold the stream). */
  viewerCandidates: 5,
  /**
   * Once this many relays besides the stream's ingest relays hold a stream,
   * its ingest relays are no longer offered to viewers: they feed the tree.
   */
  viewerIngestCutoff: 3,
  /**
   * Peers (load balancers, reverse proxies) whose X-Forwarded-For names the
   * viewer for routing by region; from anyone else the header is ignored.
   */
  trustedProxies: [] as string[],
  /** Children one node feeds per stream (bounded fan-out keeps ingest relays from being swamped). */
  maxChildren: 4,
  maxBodyBytes: 64 * 1024, // bytes per JSON request
  /** Session tickets one client address may take per stream in a burst… */
  ticketBurst: 20,
  /** …and per minute after that. */
  ticketsPerMinute: 20,
  ticketTtlMs: 2 * 60 * 60_000, // ms a viewing session lasts
  ticketGraceMs: 5 * 60_000, // ms after expiry a session's last receipt is still taken
  epochMs: 60 * 60_000, // ms per reward epoch
  /** One probe of a random (node, stream) this often; 0 turns the built-in prober off. */
  probeIntervalMs: 30_000, // ms
  /** How often the segment ledger reads ingest relays' windows. */
  recordIntervalMs: 2_000, // ms
  /**
   * A viewer's tamper report without the node's own signature proving it demotes the node on
   * that stream for this long, then stops counting: it costs a reporter only a ticket, so it
   * must not ban anyone for ever. A proof counts for that stream for ever.
   */
  evidenceTtlMs: 24 * 60 * 60_000, // ms
} as const;

/**
 * Routing score factor of a node with unexpired unproven evidence on a stream: ranked below its
 * peers there, not dropped (the player verifies every byte anyway; a false report costs the node
 * some viewers on one stream for a day, not its place in the network).
 */
export const SUSPECT_ROUTING_FACTOR = 0.25;
