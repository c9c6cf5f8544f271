import type { SegmentAttestation, StreamEnd } from "@streamrp2p/protocol";
import type { HttpServerLimits } from "@streamrp2p/service";
import type { LiveStreamOptions } from "../live-stream.ts";

/** What kind of object a message is about, and its key: the init version or the segment seq. */
export interface ObjectRef {
  stream: string;
  kind: "init" | "segment";
  key: number;
  /** The attestation's sha256: a message never lands on another object held at the same key later. */
  sha256: string;
}

/** What a worker needs to serve: its listening address, limits, and the primary's internal URL. */
export interface WorkerConfig {
  host: string;
  port: number;
  limits: HttpServerLimits;
  live: LiveStreamOptions;
  segmentWaitMs: number;
  windowWaitMs: number;
  /** Where requests only the primary can answer go (ingest, receipts, probes, health, metrics). */
  primaryUrl: string;
  statsIntervalMs: number;
  /** HTTPS: the relay's key and chain (PEM), the newest; without, plain HTTP. */
  tls?: { key: string; cert: string };
}

/**
 * Primary → worker, over the IPC channel (advanced serialization: Buffers
 * travel as bytes). Order is the order of changes in the primary's windows.
 */
export type ToWorker =
  | { t: "config"; config: WorkerConfig }
  /** Everything the primary held at the time was sent: start serving. */
  | { t: "listen" }
  | { t: "open"; stream: string; signer: string }
  /** An object added to a window; `chunks` are its bytes so far (all of them when `complete`). */
  | (ObjectRef & {
      t: "put";
      attestation: SegmentAttestation;
      init: number;
      chunks: Buffer[];
      complete: boolean;
    })
  /** More bytes of an object still arriving at the primary (cut-through). */
  | (ObjectRef & { t: "chunk"; bytes: Buffer })
  | (ObjectRef & { t: "fail"; code: string; message: string })
  | (ObjectRef & { t: "remove" })
  /** The node's delivery signature for the object (and the bytes a lying node serves); `error` when signing failed. */
  | (ObjectRef & {
      t: "signed";
      nodeSignature: string;
      bytes: Buffer | undefined;
      error: string | undefined;
    })
  | { t: "end"; stream: string; end: StreamEnd | null }
  | { t: "drop"; stream: string }
  | { t: "drain" }
  /** A renewed certificate: new connections get it (open ones keep theirs). */
  | { t: "certificate"; key: string; cert: string }
  /** Stop accepting, let responses in progress finish within `graceMs`, send the last stats, exit. */
  | { t: "close"; graceMs: number };

/** Counts a worker adds to its primary's metrics and session ledger since its last report. */
export interface WorkerStats {
  connections: number;
  /** [kind, status, count] */
  requests: Array<[string, string, number]>;
  /** [kind, bytes] */
  bytes: Array<[string, number]>;
  /** [sessionId, streamId, bytes, segments] */
  sessions: Array<[string, string, number, number]>;
  /** Streams viewers or child relays asked for since the last report: demand, as the primary counts it. */
  asked: string[];
}

/** Worker → primary. */
export type FromWorker =
  | { t: "hello" }
  | { t: "ready" }
  | { t: "failed"; message: string }
  | ({ t: "stats" } & WorkerStats)
  | { t: "closed" };
