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

const ReceiptBatchResultSchema = z.object({
  results: z.array(z.object({ sessionId: z.string(), outcome: z.string(), message: z.string().optional() })),
});

export interface CoordinatorClientOptions {
  /** e.g. http://127.0.0.1:7700 */
  baseUrl: string;
  fetch?: FetchLike;
  timeoutMs?: number; // ms per request; default 5_000
}

/** Typed calls to the coordinator's HTTP API; every answer is schema-checked. */
export class CoordinatorClient {
  readonly baseUrl: string;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;

  constructor(options: CoordinatorClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, "");
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
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
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ) {
    return requestJson(this.#fetch, `${this.baseUrl}${path}`, schema, {
      ...init,
      timeoutMs: this.#timeoutMs,
    });
  }
}
