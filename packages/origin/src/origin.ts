import { timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { CoordinatorClient } from "@streamrp2p/api-client";
import {
  DEFAULT_LADDER,
  type Ladder,
  LadderSchema,
  MAX_PART_TARGET_MS,
  MIN_PART_TARGET_MS,
  type NodeInfo,
  OFF_CHAIN_DOMAIN,
  parseWith,
  type SigningDomain,
  SrpError,
  StreamIdSchema,
  signIngestFailure,
  signStreamRegistration,
  transcodedRungs,
} from "@streamrp2p/protocol";
import {
  Counter,
  createMetricsRegistry,
  type FetchLike,
  Gauge,
  guardedFetch,
  type Logger,
  Router,
  type RunningHttpServer,
  resolveAddressPolicy,
  startHttpService,
  type Widen,
} from "@streamrp2p/service";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { Broadcast, type BroadcastStats } from "./broadcast.ts";
import { type BroadcastStateStore, MemoryBroadcastState } from "./broadcast-state.ts";
import { ORIGIN_DEFAULTS } from "./defaults.ts";
import { chooseVideoEncoder, type VideoEncoder } from "./encoder.ts";
import { requireFfmpeg, spawnFlvRemux, spawnSrtListener, type Transcode } from "./ffmpeg.ts";
import { IngestPublisher } from "./publisher.ts";
import { RtmpIngest } from "./rtmp-server.ts";

export interface OriginStreamConfig {
  streamId: string;
  /** What the streamer types into OBS; a secret. */
  streamKey: string;
  /** secp256k1 private key that signs every segment; a secret. */
  signingKey: Hex;
  /** Listen for SRT on this port too (passphrase = stream key, 10-79 chars). */
  srtPort?: number;
}

export type OriginOptions = Omit<Widen<typeof ORIGIN_DEFAULTS>, "relayAddresses" | "encoder"> & {
  relayAddresses: (typeof ORIGIN_DEFAULTS)["relayAddresses"];
  encoder: (typeof ORIGIN_DEFAULTS)["encoder"];
  /** The adaptive-bitrate ladder every stream of this origin is packaged in (LadderSchema); default: the source alone. */
  ladder: Ladder;
};

/**
 * The origin's timings: a part target players and relays can live with (it
 * is signed into every part and announced by every relay), shorter than a
 * segment.
 */
const OriginTimingSchema = z
  .object({
    segmentTargetMs: z.number().int().min(100).max(30_000),
    partTargetMs: z.number().int().min(MIN_PART_TARGET_MS).max(MAX_PART_TARGET_MS),
  })
  .refine((o) => o.partTargetMs < o.segmentTargetMs, "partTargetMs must be shorter than segmentTargetMs");

export interface OriginComponents {
  log: Logger;
  /** Registers the streams and names their ingest relays. */
  coordinator?: CoordinatorClient;
  /** Overrides the coordinator's ingest list (tests, fixed deployments). */
  resolveIngest?: (streamId: string) => Promise<NodeInfo[]>;
  fetch?: FetchLike;
  /**
   * The deployment attestations are signed for; default: the coordinator's
   * (GET /v1/info), or no chain (OFF_CHAIN_DOMAIN) without a coordinator.
   */
  domain?: SigningDomain;
  /**
   * Where each stream's broadcast position (sequence, init version) survives a
   * restart; default: in memory, so a restarted origin starts a new numbering
   * that relays cannot tell from a replay. Production passes a file store.
   */
  broadcastState?: (streamId: string) => BroadcastStateStore;
}

export interface Origin {
  readonly rtmpPort: number;
  /** Where /healthz and /metrics are served. */
  readonly httpUrl: string;
  rtmpUrl(): string;
  stats(streamId: string): BroadcastStats | undefined;
  /** The ladder every stream is packaged in. */
  readonly ladder: Ladder;
  /** Waits until every segment produced so far was pushed (or given up). */
  settled(streamId: string): Promise<unknown>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The origin: RTMP/SRT ingest, ffmpeg packaging, signing, pushing to ingest relays. */
export function createOrigin(
  init: Partial<OriginOptions>,
  streams: OriginStreamConfig[],
  components: OriginComponents,
): Origin {
  const options: OriginOptions = {
    ...ORIGIN_DEFAULTS,
    ...init,
    ladder: parseWith(LadderSchema, init.ladder ?? DEFAULT_LADDER, "origin ladder"),
  };
  parseWith(OriginTimingSchema, options, "origin timing");
  const { log, coordinator } = components;
  for (const s of streams) parseWith(StreamIdSchema, s.streamId, "origin stream id");
  const resolveIngest =
    components.resolveIngest ??
    (coordinator ? async (id: string) => (await coordinator.getStream(id)).ingest : undefined);
  if (!resolveIngest)
    throw new SrpError("BAD_REQUEST", "origin needs a coordinator or a resolveIngest function");

  const registry = createMetricsRegistry("origin", true);
  const pushes = new Counter({
    name: "srp_origin_pushes_total",
    help: "Pushes to ingest relays by outcome",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const dropped = new Counter({
    name: "srp_origin_ingest_dropped_total",
    help: "Ingest relays dropped from a push set for not taking objects in time",
    registers: [registry],
  });
  new Gauge({
    name: "srp_origin_live_streams",
    help: "Streams with a publisher connected",
    registers: [registry],
    collect() {
      this.set([...broadcasts.values()].filter((b) => b.live).length);
    },
  });
  new Gauge({
    name: "srp_origin_segments_total",
    help: "Segments packaged and signed",
    registers: [registry],
    collect() {
      this.set([...broadcasts.values()].reduce((n, b) => n + b.stats.segments, 0));
    },
  });
  let http: RunningHttpServer | undefined;
  const broadcasts = new Map<string, Broadcast>();

  const publishers: IngestPublisher[] = [];
  for (const s of streams) {
    const publisher = new IngestPublisher(
      {
        streamId: s.streamId,
        signer: privateKeyToAccount(s.signingKey),
        domain: () => domain,
        resolveIngest: () => resolveIngest(s.streamId),
        reportIngestFailure: coordinator
          ? async (nodeId, reason) => {
              const report = await signIngestFailure(privateKeyToAccount(s.signingKey), {
                streamId: s.streamId,
                nodeId: nodeId as `0x${string}`,
                issuedAt: Date.now(),
                reason: reason.slice(0, 200),
              });
              await coordinator.reportIngestFailure(report);
            }
          : undefined,
        fetch:
          components.fetch ??
          guardedFetch(
            resolveAddressPolicy(
              options.relayAddresses,
              components.coordinator?.baseUrls ?? "http://127.0.0.1",
            ),
          ),
        log: log.child("push"),
        onPushed: (_target, ok) => pushes.inc({ outcome: ok ? "ok" : "failed" }),
        onDropped: () => dropped.inc(),
      },
      { refreshMs: options.ingestRefreshMs, stallMs: options.ingestStallMs },
    );
    publishers.push(publisher);
    broadcasts.set(
      s.streamId,
      new Broadcast(
        s.streamId,
        publisher,
        log.child("broadcast"),
        { segmentTargetMs: options.segmentTargetMs, partTargetMs: options.partTargetMs },
        options.endGraceMs,
        components.broadcastState?.(s.streamId) ?? new MemoryBroadcastState(),
        transcodedRungs(options.ladder),
      ),
    );
  }

  const rtmp = new RtmpIngest({
    host: options.host,
    port: options.rtmpPort,
    log: log.child("rtmp"),
    authorize: (app, key) =>
      app === options.app ? streams.find((s) => sameSecret(s.streamKey, key))?.streamId : undefined,
    onPublish: (streamId) => {
      const broadcast = broadcasts.get(streamId);
      if (!broadcast || broadcast.live) return undefined;
      const ffmpeg = spawnFlvRemux(
        options.ffmpegPath,
        options.partTargetMs,
        log.child("ffmpeg"),
        transcode(),
      );
      broadcast.attach(ffmpeg);
      return { write: (flv) => ffmpeg.stdin?.write(flv), end: () => ffmpeg.stdin?.end() };
    },
  });

  /** Chosen at start (a trial encode), only when the ladder has rungs to transcode. */
  let encoder: VideoEncoder | undefined;
  const transcode = (): Transcode | undefined =>
    encoder ? { encoder, rungs: transcodedRungs(options.ladder) } : undefined;

  let running = false;
  const srtLoops: Promise<void>[] = [];
  const srtProcs = new Set<import("node:child_process").ChildProcess>();

  async function srtLoop(s: OriginStreamConfig & { srtPort: number }): Promise<void> {
    const broadcast = broadcasts.get(s.streamId) as Broadcast;
    while (running) {
      const proc = spawnSrtListener(
        options.ffmpegPath,
        options.host,
        s.srtPort,
        s.streamKey,
        options.partTargetMs,
        log.child("ffmpeg"),
        transcode(),
      );
      srtProcs.add(proc);
      let attached = false;
      proc.stdout?.once("data", (first: Buffer) => {
        attached = broadcast.attach(proc, first);
        if (!attached) proc.kill("SIGKILL"); // RTMP already live for this stream
      });
      await new Promise((resolve) => proc.once("close", resolve));
      srtProcs.delete(proc);
      if (running) await sleep(attached ? 100 : 500);
    }
  }

  let domain: SigningDomain = components.domain ?? OFF_CHAIN_DOMAIN;

  async function registerStreams(): Promise<void> {
    if (!coordinator) return;
    if (!components.domain) domain = (await coordinator.info()).domain;
    for (const s of streams) {
      for (let attempt = 1; ; attempt++) {
        try {
          const reg = await signStreamRegistration(privateKeyToAccount(s.signingKey), s.streamId, Date.now());
          await coordinator.registerStream(reg);
          log.info("stream registered", { streamId: s.streamId });
          break;
        } catch (err) {
          if (attempt >= 10) throw err;
          log.warn("stream registration failed; retrying", { streamId: s.streamId, attempt, err });
          await sleep(500 * attempt);
        }
      }
    }
  }

  return {
    get rtmpPort() {
      return rtmp.port;
    },
    get httpUrl() {
      if (!http) throw new SrpError("UNAVAILABLE", "origin not started");
      return http.url;
    },
    rtmpUrl: () => `rtmp://${options.host}:${rtmp.port}/${options.app}`,
    ladder: options.ladder,
    stats: (id) => broadcasts.get(id)?.stats,
    settled: (id) => broadcasts.get(id)?.settled() ?? Promise.resolve(),
    async start() {
      requireFfmpeg(options.ffmpegPath);
      if (transcodedRungs(options.ladder).length > 0)
        encoder = chooseVideoEncoder(options.ffmpegPath, options.encoder, log.child("encoder"));
      running = true;
      await registerStreams();
      await Promise.all(publishers.map((p) => p.start()));
      await rtmp.start();
      http = await startHttpService({
        host: options.host,
        port: options.httpPort,
        router: new Router(log),
        metrics: registry,
        log: log.child("http"),
        health: () => ({ streams: Object.fromEntries([...broadcasts].map(([id, b]) => [id, b.stats])) }),
      });
      for (const s of streams) {
        if (s.srtPort !== undefined) {
          if (s.streamKey.length < 10 || s.streamKey.length > 79) {
            throw new SrpError(
              "BAD_REQUEST",
              `SRT needs a stream key of 10-79 characters (stream ${s.streamId})`,
            );
          }
          srtLoops.push(srtLoop(s as OriginStreamConfig & { srtPort: number }));
          log.info("srt listening", { streamId: s.streamId, url: `srt://${options.host}:${s.srtPort}` });
        }
      }
    },
    async stop() {
      running = false;
      for (const p of srtProcs) p.kill("SIGTERM");
      await rtmp.stop();
      await http?.close();

      await Promise.all([...broadcasts.values()].map((b) => b.stop()));
      await Promise.all(srtLoops);
      for (const p of publishers) p.stop();
    },
  };
}
