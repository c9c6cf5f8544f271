/** Player defaults, with units. */
export const PLAYER_DEFAULTS = {
  /** Per-attempt limit for a playlist before the next node is tried. */
  playlistTimeoutMs: 2_500, // ms
  /** Per-attempt limit for a segment before the next node is tried. */
  segmentTimeoutMs: 4_000, // ms
  /** A node that has not answered (headers) for this long is given up: a healthy relay answers in ms. */
  firstByteTimeoutMs: 1_500, // ms
  /**
   * A blocked LL-HLS request (a reload or the preload-hinted part) is held by
   * a healthy relay until the next part, one part target away: after this
   * many signed part targets (plus firstByteTimeoutMs) without an answer the
   * relay counts as hung (frozen), not the spec's 3 target durations.
   */
  blockedAnswerParts: 4, // part targets
  /** A response whose bytes stop for this long (its relay's upstream hung) fails over at once. */
  bodyIdleTimeoutMs: 1_500, // ms
  /** How long a node that failed or lied is tried last. */
  penaltyMs: 15_000, // ms
  /** How often cumulative receipts are signed and sent. */
  receiptIntervalMs: 2_000, // ms
  /**
   * One attempt at one coordinator replica (ticket, node list): a frozen
   * replica costs this once, then the next replica is asked.
   */
  coordinatorTimeoutMs: 3_000, // ms
  /**
   * Plain HLS: how far behind the live edge playback sits, in target
   * durations (hls.js liveSyncDurationCount). 2, not hls.js's 3: about a
   * second less latency with 1 s segments, for 2 segments of buffer to ride
   * out a relay failing (failover takes at most firstByteTimeoutMs). LL-HLS
   * sits the relays' PART-HOLD-BACK behind instead (3 parts).
   */
  liveSyncSegments: 2, // target durations
  /**
   * The same with an adaptive-bitrate ladder (more than one rung): one more
   * segment of buffer lets hls.js step down a rung when bandwidth drops
   * suddenly before playback runs dry (at 2, a throttle to 40% of the
   * source's bitrate stalled 1.6 s while switching; test/browser/abr.test.ts).
   */
  ladderLiveSyncSegments: 3, // target durations
  /** How often the ranked node list is refreshed from the coordinator. */
  nodesRefreshMs: 10_000, // ms
} as const;
