/**
 * Limits of every HTTP server we run (relay, coordinator, origin), with units.
 * They bound what a slow or hostile client can hold: a socket, a header
 * buffer, a response it never reads.
 */
export const HTTP_SERVER_DEFAULTS = {
  /** A client must send its complete request head within this; slowloris connections are cut after it. */
  headersTimeoutMs: 10_000, // ms
  /** The whole request, body included: a 16 MB segment PUT needs at least ~2.2 Mbit/s. */
  requestTimeoutMs: 60_000, // ms
  /** How often node:http checks the two timeouts above; they are only as precise as this. */
  connectionsCheckingIntervalMs: 1_000, // ms
  /**
   * No byte moves either way for this long: the socket is closed. Catches a
   * reader that stops reading a large response (within twice this: node:net
   * lets the first period pass when the write queue moved since it began).
   * Above the relay's 8 s window long-poll and 3 s segment wait, which are
   * silent by design.
   */
  idleTimeoutMs: 30_000, // ms
  /** An idle keep-alive connection is kept this long: above common load-balancer idle timeouts (60 s). */
  keepAliveTimeoutMs: 65_000, // ms
  /** Request line plus headers; our largest header (x-srp-attestation) is under 1 KiB. Larger: 431. */
  maxHeaderBytes: 16 * 1024, // bytes
  /** Open connections at once; more are closed at accept, so sockets and memory stay bounded. */
  maxConnections: 4_096, // connections
} as const;

export type HttpServerLimits = { -readonly [K in keyof typeof HTTP_SERVER_DEFAULTS]: number };
