/** Coordinator defaults, with units. */
export const COORDINATOR_DEFAULTS = {
  host: "127.0.0.1",
  port: 7700,
  /** SQLite file lives here; ":memory:" for a throwaway store. */
  dataDir: ".data/coordinator",
  /**
   * Public base URLs of this coordinator's replicas (sharing its database):
   * the watch page gives them to the player, after the page's own origin,
   * so a viewer fails over when a replica goes. Empty: the page's origin only.
   */
  replicaUrls: [] as readonly string[],
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
  /**
   * Every stream's ingest choice is checked this often for what only time changes (a relay
   * falling silent, an exclusion running out); writes that change its inputs re-choose at once.
   */
  ingestSweepMs: 1_000, // ms
  /** Relays a viewer is offered per request (at least 3 when 3 hold the stream). */
  viewerCandidates: 5,
  /**
   * Once this many relays besides the stream's ingest relays hold a stream,
   * its ingest relays are no longer offered to viewers: they feed the tree.
   */
  viewerIngestCutoff: 3,
  /**
   * Peers (load balancers, reverse proxies) whose X-Forwarded-For names the
   * viewer: for routing by region, and for the address its tickets, rate
   * limits and credit caps key on. From anyone else the header is ignored.
   */
  trustedProxies: [] as string[],
  /** Children one node feeds per stream (bounded fan-out keeps ingest relays from being swamped). */
  maxChildren: 4,
  /**
   * Relays beyond the ingest relays kept carrying every live stream without
   * viewers or children of their own: warm standbys for the next viewers and
   * child relays. Others carry a stream only while they have demand (tree.ts).
   */
  minRelaysPerStream: 8,
  /** A relay holding a stream at this fraction of its egress capacity earns the stream one more standby. */
  recruitLoadRatio: 0.7,
  maxBodyBytes: 64 * 1024, // bytes per JSON request
  /** Session tickets one client address may take per stream in a burst… */
  ticketBurst: 20,
  /** …and per minute after that. */
  ticketsPerMinute: 20,
  /**
   * Node and stream registrations one site (IPv4 /24, IPv6 /48) may make in a burst, and per
   * minute after that: each costs a signature check and a registry row, and keys are free.
   * An operator that registers many relays or streams from one network raises them
   * (`--registration-burst`, `--registrations-per-minute`).
   */
  registrationBurst: 60,
  registrationsPerMinute: 30,
  ticketTtlMs: 2 * 60 * 60_000, // ms a viewing session lasts
  ticketGraceMs: 5 * 60_000, // ms after expiry a session's last receipt is still taken
  epochMs: 60 * 60_000, // ms per reward epoch
  /** The built-in prober probes at least once this often; 0 turns it off. */
  probeIntervalMs: 30_000, // ms
  /**
   * Each node carrying a stream is probed about this often, however many nodes there are
   * (least recently probed first): three times an epoch, so that every node's reputation
   * rests on probes in every epoch…
   */
  probeEachNodeMs: 20 * 60_000, // ms
  /** …within this budget for the whole network (10,000 nodes need 8.3/s). */
  maxProbesPerSecond: 20, // probes/s
  /** How often the segment ledger reads ingest relays' windows. */
  recordIntervalMs: 2_000, // ms
  /**
   * A viewer's tamper report without the node's own signature proving it demotes the node on
   * that stream for this long, then stops counting: it costs a reporter only a ticket, so it
   * must not ban anyone for ever. A proof counts for that stream for ever.
   */
  evidenceTtlMs: 24 * 60 * 60_000, // ms
  /** PostgreSQL URL for several replicas on one database; empty: SQLite under dataDir. */
  postgres: "",
  /** The ticket-signing key; empty: <dataDir>/ticket.key. Replicas on one database share one file. */
  ticketKeyFile: "",
  /** This replica's name in the epoch lease; empty: a random one per process. */
  replicaId: "",
  /** Heartbeat state is written to the database in one batch this often (not once per heartbeat). */
  heartbeatFlushMs: 1_000, // ms
  /** Other replicas' node writes are read this often. */
  nodeRefreshMs: 1_000, // ms
  /**
   * The epoch lease (closing and settling epochs, probing) lasts this long unless renewed;
   * renewed every second by its holder. A replica that dies or freezes loses it this long after.
   */
  leaseTtlMs: 10_000, // ms
} as const;

/**
 * Routing score factor of a node with unexpired unproven evidence on a stream: ranked below its
 * peers there, not dropped (the player verifies every byte anyway; a false report costs the node
 * some viewers on one stream for a day, not its place in the network).
 */
export const SUSPECT_ROUTING_FACTOR = 0.25;
