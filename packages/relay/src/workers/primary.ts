import { availableParallelism } from "node:os";
import type { HttpServerLimits, Logger } from "@streamrp2p/service";
import type { DeliverySigner } from "../delivery-signer.ts";
import type { LiveStream, LiveStreamOptions } from "../live-stream.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { SessionLedger } from "../session-ledger.ts";
import type { WorkerStats } from "./messages.ts";
import { WORKER_POOL_DEFAULTS, WorkerPool } from "./pool.ts";
import { WindowReplicator } from "./replicator.ts";

/** `workers` as configured: 0 = one per CPU core. */
export function workerCount(workers: number): number {
  return workers === 0 ? availableParallelism() : workers;
}

export interface WorkerFrontDeps {
  count: number;
  host: string;
  port: number;
  limits: HttpServerLimits;
  live: LiveStreamOptions;
  segmentWaitMs: number;
  windowWaitMs: number;
  signer: DeliverySigner;
  metrics: RelayMetrics;
  ledger: SessionLedger;
  streams: () => Iterable<LiveStream>;
  /** A viewer or child relay asked a worker for this stream's media (the relay's demand rules). */
  onAsked: (streamId: string) => void;
  log: Logger;
}

/**
 * A relay's public side when it runs worker processes. The primary stays the
 * relay's one brain — ingest, pulling, heartbeats, receipts, probes — behind
 * an internal address; the workers listen on the public port, serve media
 * from replicas of its windows, pass every other request to it, and report
 * what they served, which the primary adds to its metrics and session ledger.
 */
export function createWorkerFront(deps: WorkerFrontDeps) {
  const { metrics, ledger } = deps;
  let pool: WorkerPool | undefined;
  let gauge: NodeJS.Timeout | undefined;
  const replicator = new WindowReplicator(
    (msg) => pool?.broadcast(msg),
    deps.signer,
    deps.log.child("workers"),
  );
  const onStats = (stats: WorkerStats) => {
    for (const [kind, status, n] of stats.requests) metrics.requests.inc({ kind, status }, n);
    for (const [kind, n] of stats.bytes) {
      metrics.bytesServed.inc({ kind }, n);
      metrics.totals.bytesServed += n;
    }
    for (const [session, stream, bytes, segments] of stats.sessions)
      ledger.add(session, stream, bytes, segments);
    for (const id of stats.asked ?? []) deps.onAsked(id);
  };
  return {
    /** Hears every window change; give it to the relay's StreamTable. */
    observer: replicator,
    /** Starts the workers (HTTPS with `tls`); requests they do not serve go to `primaryUrl`. */
    async start(primaryUrl: string, tls?: { key: string; cert: string }): Promise<void> {
      pool = new WorkerPool({
        count: deps.count,
        log: deps.log.child("workers"),
        config: {
          host: deps.host,
          port: deps.port,
          // The connection cap is the relay's: each worker takes its share (connections are dealt round robin).
          limits: { ...deps.limits, maxConnections: Math.ceil(deps.limits.maxConnections / deps.count) },
          live: deps.live,
          segmentWaitMs: deps.segmentWaitMs,
          windowWaitMs: deps.windowWaitMs,
          primaryUrl,
          statsIntervalMs: WORKER_POOL_DEFAULTS.statsIntervalMs,
          ...(tls ? { tls } : {}),
        },
        sync: (send) => replicator.sync(deps.streams(), send),
        onStats,
      });
      await pool.start();
      gauge = setInterval(() => metrics.connections.set(pool?.connections() ?? 0), 1_000);
      gauge.unref();
    },
    get port(): number {
      return pool?.port ?? deps.port;
    },
    connections: () => pool?.connections() ?? 0,
    /** A renewed certificate for the workers' HTTPS. */
    setCertificate: (tls: { key: string; cert: string }) => pool?.setCertificate(tls),
    health: () => pool?.health(),
    drain: () => pool?.broadcast({ t: "drain" }),
    close: async (graceMs: number) => {
      clearInterval(gauge);
      await pool?.close(graceMs);
    },
    stop: async () => {
      clearInterval(gauge);
      await pool?.stop();
    },
  };
}

export type WorkerFront = ReturnType<typeof createWorkerFront>;
