import {
  type CoordinatorInfo,
  CoordinatorInfoSchema,
  type HeartbeatInput,
  type HeartbeatReply,
  HeartbeatReplySchema,
  type IngestFailure,
  type NodeRegistered,
  NodeRegisteredSchema,
  type NodeRegistration,
  type NodeStatus,
  NodeStatusSchema,
  type RankedNodes,
  RankedNodesSchema,
  type ReceiptBatch,
  type StreamInfo,
  StreamInfoSchema,
  type StreamRegistration,
  type UpstreamAssignment,
  UpstreamAssignmentSchema,
} from "@streamrp2p/protocol";
import { type FetchLike, requestJson } from "@streamrp2p/service";
import { z } from "zod";
import {
  CoordinatorEndpoints,
  type CoordinatorEndpointsOptions,
  withFailover,
} from "./coordinator-endpoints.ts";

const ReceiptBatchResultSchema = z.object({
  results: z.array(z.object({ sessionId: z.string(), outcome: z.string(), message: z.string().optional() })),
});

/** Client defaults, with units. */
export const COORDINATOR_CLIENT_DEFAULTS = {
  /**
   * One attempt at one replica: a frozen replica (accepts, never answers)
   * costs this once, then backs off while the next replica answers.
   */
  timeoutMs: 3_000, // ms
  /**
   * Added to timeoutMs for each receipt of a batch (up to 5,000 signatures
   * for the coordinator to check): the usual small batch still fails over
   * from a frozen replica in about timeoutMs, a full one gets 8 s.
   */
  timeoutMsPerReceipt: 1, // ms
} as const;

export interface CoordinatorClientOptions extends CoordinatorEndpointsOptions {
  /** The coordinator replicas, e.g. ["http://10.0.0.1:7700", "http://10.0.0.2:7700"], or "a,b". */
  baseUrls?: string | readonly string[];
  /** One coordinator, e.g. http://127.0.0.1:7700 (the same as baseUrls: [baseUrl]). */
  baseUrl?: string;
  fetch?: FetchLike;
  /** ms per attempt at one replica; default COORDINATOR_CLIENT_DEFAULTS.timeoutMs. */
  timeoutMs?: number;
  /** ms added per receipt to an attempt of a receipt batch; default COORDINATOR_CLIENT_DEFAULTS.timeoutMsPerReceipt. */
  timeoutMsPerReceipt?: number;
  /** Told when a replica fails and the next is tried (for the caller's log). */
  onFailover?: (failed: string, err: unknown) => void;
}

/**
 * Typed calls to the coordinator's HTTP API; every answer is schema-checked.
 * With several replicas (sharing one database, so any answers any request)
 * each call goes to the replica that answered last and moves on to the next
 * when one does not answer or answers 502/503/504 (CoordinatorEndpoints).
 *
 * Retrying a POST on another replica after a timeout may apply it twice
 * (the first replica may have acted before it stopped answering). Every POST
 * here is safe that way: receipts are cumulative and signed (a replayed one
 * is "unchanged", a newer one supersedes); a heartbeat is the node's current
 * load, the latest wins; a stream registration is idempotent (same stream,
 * same signer) and an ingest-failure report sets an exclusion, twice is once;
 * an upstream assignment asked twice leaves the node with the later one, the
 * one it acts on. A node registration replayed on a second replica after
 * the first took it is refused as CONFLICT (a 409 answer, replay protection):
 * the caller signs a fresh one (HeartbeatLoop does), never a double token.
 */
export class CoordinatorClient {
  readonly endpoints: CoordinatorEndpoints;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #timeoutMsPerReceipt: number;
  readonly #onFailover: ((failed: string, err: unknown) => void) | undefined;

  constructor(options: CoordinatorClientOptions) {
    const urls = options.baseUrls ?? options.baseUrl;
    if (urls === undefined) throw new TypeError("CoordinatorClient needs baseUrls or baseUrl");
    this.endpoints = new CoordinatorEndpoints(urls, options);
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? COORDINATOR_CLIENT_DEFAULTS.timeoutMs;
    this.#timeoutMsPerReceipt =
      options.timeoutMsPerReceipt ?? COORDINATOR_CLIENT_DEFAULTS.timeoutMsPerReceipt;
    this.#onFailover = options.onFailover;
  }

  /** Every configured replica. */
  get baseUrls(): readonly string[] {
    return this.endpoints.urls;
  }

  /** The replica that answered last (the first configured one before any call). */
  get baseUrl(): string {
    return this.endpoints.preferred;
  }

  info(): Promise<CoordinatorInfo> {
    return this.#call("/v1/info", CoordinatorInfoSchema);
  }

  registerStream(reg: StreamRegistration): Promise<StreamInfo> {
    return this.#call("/v1/streams", StreamInfoSchema, { body: reg });
  }

  /** The origin reports an ingest relay it dropped; the reply is the stream with its new ingest relays. */
  reportIngestFailure(report: IngestFailure): Promise<StreamInfo> {
    return this.#call(
      `/v1/streams/${encodeURIComponent(report.streamId)}/ingest-failures`,
      StreamInfoSchema,
      { body: report },
    );
  }

  getStream(streamId: string): Promise<StreamInfo> {
    return this.#call(`/v1/streams/${encodeURIComponent(streamId)}`, StreamInfoSchema);
  }

  registerNode(reg: NodeRegistration): Promise<NodeRegistered> {
    return this.#call("/v1/nodes", NodeRegisteredSchema, { body: reg });
  }

  heartbeat(token: string, hb: HeartbeatInput): Promise<HeartbeatReply> {
    return this.#call(`/v1/nodes/${hb.nodeId}/heartbeat`, HeartbeatReplySchema, {
      body: hb,
      headers: { authorization: `Bearer ${token}` },
    });
  }

  submitReceipts(
    token: string,
    batch: ReceiptBatch,
  ): Promise<{ results: Array<{ sessionId: string; outcome: string }> }> {
    return this.#call(`/v1/nodes/${batch.nodeId}/receipts`, ReceiptBatchResultSchema, {
      body: batch,
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: this.#timeoutMs + batch.submissions.length * this.#timeoutMsPerReceipt,
    });
  }

  /** A node asks for (another) upstream for itself, with its bearer token. */
  assignUpstream(
    token: string,
    streamId: string,
    nodeId: string,
    exclude: string[] = [],
  ): Promise<UpstreamAssignment> {
    return this.#call(`/v1/streams/${encodeURIComponent(streamId)}/upstream`, UpstreamAssignmentSchema, {
      body: { nodeId, exclude },
      headers: { authorization: `Bearer ${token}` },
    });
  }

  nodeStatus(nodeId: string): Promise<NodeStatus> {
    return this.#call(`/v1/nodes/${nodeId}/status`, NodeStatusSchema);
  }

  rankedNodes(streamId: string, region?: string): Promise<RankedNodes> {
    const q = region ? `?region=${encodeURIComponent(region)}` : "";
    return this.#call(`/v1/streams/${encodeURIComponent(streamId)}/nodes${q}`, RankedNodesSchema);
  }

  #call<S extends Parameters<typeof requestJson>[2]>(
    path: string,
    schema: S,
    init: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ) {
    return withFailover(
      this.endpoints,
      (base) =>
        requestJson(this.#fetch, `${base}${path}`, schema, {
          ...init,
          timeoutMs: init.timeoutMs ?? this.#timeoutMs,
        }),
      this.#onFailover,
    );
  }
}
