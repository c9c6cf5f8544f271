/** Relay defaults, with units. */
export const RELAY_DEFAULTS = {
  host: "127.0.0.1",
  port: 0, // 0 = any free port
  region: "local",
  capacityMbps: 1000, // Mbit/s offered
  /** Segments kept per stream; older ones are evicted. ~30 s at 1 s segments. */
  maxSegments: 30,
  /** Segments listed in the viewer playlist (the live window). */
  playlistSegments: 6,
  maxSegmentBytes: 16 * 1024 * 1024, // bytes; larger PUTs are refused with 413
  /** Streams held at once (pushed or pulled); bounds memory and the heartbeat. */
  maxStreams: 200,
  /** A stream whose window has not changed for this long, and that nothing pulls, is forgotten. */
  idleStreamMs: 120_000, // ms
  /** Long polls (window.json?wait, next segment) waiting on one stream at once. */
  maxWaitersPerStream: 10_000,
  heartbeatIntervalMs: 2_000, // ms
  /**
   * Demand grace: a pulled stream the coordinator no longer asks this relay to
   * carry, and that no viewer or child relay has requested for this long, is
   * torn down (puller stopped, window dropped). Covers a viewer between two
   * requests and a child between re-parenting and its first heartbeat.
   */
  carryGraceMs: 30_000, // ms
  /** Long-poll of window.json between relays. */
  windowWaitMs: 8_000, // ms
  /** How long a viewer request for the next, not yet announced segment may wait. */
  segmentWaitMs: 3_000, // ms
  /** Upstream fetch gives up when no byte arrives for this long. */
  upstreamIdleTimeoutMs: 4_000, // ms
  /** Failed fetches of one object before the relay re-parents. */
  upstreamFailuresBeforeReparent: 2,
  receiptSubmitIntervalMs: 10_000, // ms
  /** Drain: time for viewers and child relays to move and send their last receipts; > the player's receipt interval. */
  drainGraceMs: 5_000, // ms
  drainTimeoutMs: 30_000, // ms
  /**
   * Which addresses node URLs may reach from this relay (upstreams it pulls
   * from, probe tasks): "public" refuses internal addresses at connect time;
   * "auto" is "any" when the coordinator is on loopback (a network on one
   * machine), else "public". A LAN network sets "any".
   */
  nodeAddresses: "auto" as "auto" | "public" | "any",
  /**
   * Processes serving viewers. 1: this process does everything (tests, `up`).
   * More: this process keeps ingest, pulling, receipts and heartbeats, and
   * that many workers serve from copies of its windows; 0 = one per CPU core.
   */
  workers: 1,
} as const;

/** HTTPS (RelayOptions.tls): certificate renewal timings and the CA answer cap. */
export interface TlsTimings {
  renewBeforeFraction: number;
  checkIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  startAttempts: number;
  requestTimeoutMs: number;
  maxResponseBytes: number;
  pollAttempts: number;
  pollMinMs: number;
  pollMaxMs: number;
  challengePort: number;
}

export const TLS_DEFAULTS: Readonly<TlsTimings> = {
  /** Renew with this fraction of the lifetime left: 30 days of a 90-day certificate, 2 of a 6-day one. */
  renewBeforeFraction: 1 / 3,
  checkIntervalMs: 60_000, // ms
  /** A failed renewal is retried after 1 min, doubling up to 1 h (a 6-day certificate renews with 2 days left). */
  retryMinMs: 60_000, // ms
  retryMaxMs: 3_600_000, // ms
  /** Without a usable certificate at start: attempts before the relay gives up starting. */
  startAttempts: 3,
  /** One request to the CA, first byte to last; a frozen or trickling CA costs this much, then the backoff. */
  requestTimeoutMs: 15_000, // ms
  /** The largest answer to one request to the CA (a chain is a few KB); larger fails the attempt. */
  maxResponseBytes: 1024 * 1024, // bytes
  /** Polls while the CA validates the challenge and issues. */
  pollAttempts: 10,
  pollMinMs: 500, // ms
  pollMaxMs: 5_000, // ms
  /** The http-01 challenge listener: the CA asks port 80. */
  challengePort: 80,
} as const;

export type RelayDefaults = typeof RELAY_DEFAULTS;
