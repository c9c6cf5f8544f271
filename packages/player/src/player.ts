import { LL_PLAYLIST_PARAM, MASTER_PLAYLIST_FILE } from "@streamrp2p/protocol";
import Hls from "hls.js";
import { PLAYER_DEFAULTS } from "./defaults.ts";
import { createLoaderClass } from "./loader.ts";
import {
  type SessionEvent,
  type SessionStats,
  ViewerSession,
  type ViewerSessionOptions,
} from "./viewer-session.ts";

export type PlayerStatus = "connecting" | "playing" | "offline" | "ended" | "error";

export interface PlayerHandle {
  session: ViewerSession | undefined;
  status: PlayerStatus;
  /** Fatal hls.js errors seen (each was recovered from or retried). */
  fatalErrors: string[];
  stats(): (SessionStats & { receiptTotals: Record<string, number> }) | undefined;
  /** The adaptive-bitrate state: the rung playing, hls.js's bandwidth estimate (bit/s), the rungs. */
  abr(): AbrState | undefined;
  destroy(): Promise<void>;
}

export interface AbrState {
  /** Index into `levels` of the rung playing (-1 before the first). */
  level: number;
  estimateBps: number;
  auto: boolean;
  levels: Array<{ bitrate: number; height: number }>;
}

export interface AttachOptions extends ViewerSessionOptions {
  onStatus?: (status: PlayerStatus, detail?: string) => void;
  onEvent?: (e: SessionEvent) => void;
  /**
   * hls.js low-latency mode (LL-HLS parts and blocking reloads, where relays
   * serve them), every part verified like a segment. Off by default for now:
   * a relay signs no delivery for a part, so a part it tampers with is
   * refused and failed over, but yields no fraud proof (docs: issue 14).
   */
  lowLatency?: boolean; // default false
  /** Retry interval while the stream is offline. */
  offlineRetryMs?: number; // ms, default 3_000
}

/**
 * Plays a stream in `video`: a session from the coordinator, hls.js with the
 * verifying, failing-over loader, and a status the page can show. Errors
 * never throw at the user: they become statuses and recoveries.
 */
export function attachPlayer(video: HTMLVideoElement, options: AttachOptions): PlayerHandle {
  let hls: Hls | undefined;
  let destroyed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const handle: PlayerHandle = {
    session: undefined,
    status: "connecting",
    fatalErrors: [],
    stats() {
      const s = handle.session;
      if (!s) return undefined;
      return {
        ...s.stats,
        receiptTotals: s.receiptTotals(),
      };
    },
    abr() {
      if (!hls) return undefined;
      return {
        level: hls.currentLevel,
        estimateBps: hls.bandwidthEstimate,
        auto: hls.autoLevelEnabled,
        levels: hls.levels.map((l) => ({ bitrate: l.bitrate, height: l.height })),
      };
    },
    async destroy() {
      destroyed = true;
      clearTimeout(retryTimer);
      hls?.destroy();
      await handle.session?.close();
    },
  };
  const setStatus = (status: PlayerStatus, detail?: string) => {
    handle.status = status;
    options.onStatus?.(status, detail);
  };

  const start = async () => {
    let session: ViewerSession;
    try {
      session = await ViewerSession.open(options);
    } catch (err) {
      setStatus("offline", err instanceof Error ? err.message : String(err));
      if (!destroyed) retryTimer = setTimeout(() => void start(), options.offlineRetryMs ?? 3_000);
      return;
    }
    if (destroyed) return void session.close();
    handle.session = session;
    if (options.onEvent) session.on(options.onEvent);
    const first = session.pool.order()[0];
    const h = new Hls({
      loader: createLoaderClass(session) as never,
      // LL-HLS where relays serve it (parts, blocking reload): every part is verified in the loader too.
      lowLatencyMode: options.lowLatency ?? false,
      // Plain HLS only: any liveSync setting overrides the PART-HOLD-BACK hls.js plays LL-HLS at.
      ...(options.lowLatency ? {} : { liveSyncDurationCount: PLAYER_DEFAULTS.liveSyncSegments }),
      // Failover happens inside the loader, so hls.js-level retries are a last resort.
      fragLoadPolicy: {
        default: {
          maxTimeToFirstByteMs: 10_000,
          maxLoadTimeMs: 20_000,
          timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
          errorRetry: { maxNumRetry: 6, retryDelayMs: 500, maxRetryDelayMs: 2_000 },
        },
      },
    });
    hls = h;
    h.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      // A ladder: hold one more segment back, so a sudden drop in bandwidth leaves hls.js the
      // buffer to step down a rung (read when the first level's live position is computed, next).
      if (!options.lowLatency && data.levels.length > 1)
        h.config.liveSyncDurationCount = PLAYER_DEFAULTS.ladderLiveSyncSegments;
      void video.play().catch(() => {
        video.muted = true; // autoplay policy: start muted rather than not at all
        void video.play().catch(() => {});
      });
    });
    h.on(Hls.Events.LEVEL_UPDATED, (_e, data) => {
      if (!data.details.live) setStatus("ended");
    });
    h.on(Hls.Events.FRAG_BUFFERED, () => {
      if (handle.status === "connecting" || handle.status === "error") setStatus("playing");
    });
    h.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      handle.fatalErrors.push(`${data.type}: ${data.details}`);
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        h.recoverMediaError();
        return;
      }
      setStatus("error", `${data.type}: ${data.details}`);
      h.startLoad(); // the loader already tried every relay; keep trying rather than give up
    });
    // Plain HLS: the multivariant playlist, every rung of the stream's ladder (one, without
    // transcoding); hls.js switches between them by measured bandwidth, and the loader verifies each
    // rung's segments. LL-HLS: the source's media playlist asked for as LL (`?ll=1`; without it
    // relays serve plain HLS). Rungs carry no parts, so LL plays the source only.
    const stream = `${first?.url}/live/${encodeURIComponent(options.streamId)}`;
    h.loadSource(
      options.lowLatency
        ? `${stream}/index.m3u8?${LL_PLAYLIST_PARAM}=1`
        : `${stream}/${MASTER_PLAYLIST_FILE}`,
    );
    h.attachMedia(video);
  };
  void start();
  return handle;
}
