/** Origin defaults, with units. */
export const ORIGIN_DEFAULTS = {
  host: "127.0.0.1",
  rtmpPort: 1935,
  /** /healthz and /metrics; 0 = any free port. */
  httpPort: 8090,

  /** The RTMP application name: rtmp://host:1935/live/STREAM_KEY */
  app: "live",
  /** Media segments are cut at the first keyframe at or after this. */
  segmentTargetMs: 1_000, // ms
  /**
   * Low-Latency HLS part target: each ffmpeg fragment of about this length is
   * signed and pushed as a part as soon as it exists, and relays announce it
   * (EXT-X-PART-INF). Players then sit about 3 parts behind the live edge.
   */
  partTargetMs: 250, // ms
  ffmpegPath: "ffmpeg",
  /** A reconnect within this time continues the broadcast without an end marker. */
  endGraceMs: 2_000, // ms
  ingestRefreshMs: 3_000, // ms
  /**
   * An ingest relay that has not taken an object this long after it was signed
   * is dropped and replaced: one segment duration, so a hung relay never holds
   * the stream up by more.
   */
  ingestStallMs: 1_000, // ms
  /**
   * Which addresses the origin pushes to (ingest relay URLs come from the
   * coordinator, which took them from nodes): "public" refuses internal
   * addresses at connect time; "auto" is "any" when the coordinator is on
   * loopback (one machine), else "public"; a LAN network sets "any".
   */
  relayAddresses: "auto" as "auto" | "public" | "any",
  /**
   * H.264 encoder for the transcoded rungs: "auto" uses a hardware encoder
   * (VAAPI, NVENC) when one passes a trial encode, else libx264.
   */
  encoder: "auto" as VideoEncoderChoice,
} as const;

export type VideoEncoderChoice = "auto" | "libx264" | "h264_nvenc" | "h264_vaapi";
