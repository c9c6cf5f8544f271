import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import {
  HeartbeatSchema,
  IngestFailureSchema,
  MAX_HEARTBEAT_STREAMS,
  NodeRegistrationSchema,
  parseWith,
  REGISTRATION_MAX_SKEW_MS,
  registrationSupersedes,
  SrpError,
  type StreamInfo,
  StreamRegistrationSchema,
  UpstreamRequestSchema,
  verifyIngestFailure,
  verifyNodeRegistration,
  verifyStreamRegistration,
} from "@streamrp2p/protocol";
import { type Counter, type Logger, type Router, readJson, sendJson } from "@streamrp2p/service";
import type { AccountingService } from "../accounting/accounting-service.ts";
import { siteOf } from "../accounting/viewer-identity.ts";
import type { CarryPlan } from "../carry-plan.ts";
import type { CoordinatorOptions } from "../coordinator.ts";
import type { IngestChoice } from "../ingest-choice.ts";
import type { IngestExclusions } from "../ingest-exclusions.ts";
import type { NodeLookup } from "../node-auth.ts";
import { authenticateNode, hashToken } from "../node-auth.ts";
import { nodeStatus } from "../node-status.ts";
import { checkNodeUrl, type effectivePolicy } from "../node-url.ts";
import type { NodeView } from "../node-view.ts";
import type { RateLimiter } from "../rate-limiter.ts";
import { viewerAddress } from "../routing/geo.ts";
import type { ViewerIndex } from "../routing/viewer-index.ts";
import { isHealthy } from "../routing.ts";
import type { Settler } from "../settlement/settler.ts";
import type { CoordinatorStore, NodeRow, StreamRow } from "../store.ts";
import type { StreamListCache } from "../stream-list-cache.ts";
import { chooseUpstream } from "../tree.ts";
import type { ViewerPlace } from "../viewer-routes.ts";

/**
 * The registry's HTTP surface: streams (registration, ingest relays, ranked
 * nodes, upstream assignment) and nodes (registration, listing, status,
 * heartbeats). Reads answer from the replica's in-memory views; writes go to
 * the database at once (registrations) or in batches (heartbeats).
 */
export interface RegistryRouteDeps {
  store: CoordinatorStore;
  options: CoordinatorOptions;
  log: Logger;
  now: () => number;
  apiCalls: Counter<"route">;
  nodeUrlPolicy: ReturnType<typeof effectivePolicy>;
  nodeView: NodeView;
  lookup: NodeLookup;
  streams: StreamListCache;
  carryPlan: CarryPlan;
  ingestChoice: IngestChoice;
  ingestExclusions: IngestExclusions;
  /** Registrations per subnet: keys are free, signature checks and registry rows are not. */
  registrations: RateLimiter;
  accounting: AccountingService;
  settler: Settler | undefined;
  requireStream(id: string | undefined): Promise<StreamRow>;
  describeStream(stream: StreamRow): StreamInfo;
  streamInfo(stream: StreamRow): Promise<StreamInfo>;
  believable(streamId: string): Promise<NodeRow[]>;
  rank(stream: StreamRow, viewer: ViewerPlace, assign: boolean): ReturnType<ViewerIndex["candidates"]>;
}

const heartbeatFields = (n: NodeRow) => ({
  lastHeartbeatAt: n.lastHeartbeatAt,
  connections: n.connections,
  egressBps: n.egressBps,
  bytesServed: n.bytesServed,
  load: n.load,
  draining: n.draining,
});

function checkSkew(issuedAt: number, now: number, what: string): void {
  if (Math.abs(now - issuedAt) > REGISTRATION_MAX_SKEW_MS) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `${what}: issuedAt is more than ${REGISTRATION_MAX_SKEW_MS} ms from now`,
    );
  }
}

export function addRegistryRoutes(router: Router, d: RegistryRouteDeps): void {
  const {
    store,
    options,
    log,
    now,
    apiCalls,
    nodeUrlPolicy,
    nodeView,
    lookup,
    streams,
    carryPlan,
    ingestChoice,
    ingestExclusions,
    registrations,
    accounting,
    settler,
    requireStream,
    describeStream,
    streamInfo,
    believable,
    rank,
  } = d;
  /**
   * Before any signature check: a flood from one network costs it 429s, not us CPU and rows.
   * The network is the client's a trusted proxy names, not the proxy's (one bucket for all).
   */
  const limitRegistrations = (req: IncomingMessage) => {
    if (!registrations.take(siteOf(viewerAddress(req, options.trustedProxies) ?? "unknown"))) {
      throw new SrpError("RATE_LIMITED", "too many registrations from this network; try again in a minute");
    }
  };
  router.on("POST", "/v1/streams", async (req, res) => {
    apiCalls.inc({ route: "register_stream" });
    limitRegistrations(req);
    const reg = parseWith(
      StreamRegistrationSchema,
      await readJson(req, options.maxBodyBytes),
      "stream registration",
    );
    checkSkew(reg.issuedAt, now(), "stream registration");
    await verifyStreamRegistration(reg);
    const existing = await store.getStream(reg.streamId);
    if (existing && existing.signer !== reg.signer) {
      throw new SrpError("CONFLICT", `stream ${reg.streamId} belongs to another signing key`);
    }
    const row = existing ?? { streamId: reg.streamId, signer: reg.signer, createdAt: now(), ingest: [] };
    if (!existing) {
      await store.insertStream(row);
      streams.invalidate();
      carryPlan.invalidate();
      log.info("stream registered", { streamId: reg.streamId, signer: reg.signer });
    }
    sendJson(res, existing ? 200 : 201, await streamInfo(row));
  });
  router.on("GET", "/v1/streams", async (_req, res) => {
    const streams = await store.listStreams();
    sendJson(res, 200, { streams: streams.map(describeStream) });
  });
  router.on("GET", "/v1/streams/:id", async (_req, res, p) => {
    apiCalls.inc({ route: "get_stream" });
    sendJson(res, 200, describeStream(await requireStream(p.id)));
  });
  router.on("POST", "/v1/streams/:id/ingest-failures", async (req, res, p) => {
    apiCalls.inc({ route: "ingest_failure" });
    const stream = await requireStream(p.id);
    const report = parseWith(
      IngestFailureSchema,
      await readJson(req, options.maxBodyBytes),
      "ingest failure",
    );
    if (report.streamId !== stream.streamId)
      throw new SrpError("VALIDATION_FAILED", "ingest failure names another stream");
    checkSkew(report.issuedAt, now(), "ingest failure");
    await verifyIngestFailure(report, stream.signer);
    ingestExclusions.exclude(stream.streamId, report.nodeId.toLowerCase());
    log.warn("origin dropped an ingest relay", {
      streamId: stream.streamId,
      nodeId: report.nodeId,
      reason: report.reason,
    });
    sendJson(res, 200, await streamInfo(await requireStream(p.id)));
  });
  router.on("GET", "/v1/streams/:id/nodes", async (req, res, p, url) => {
    apiCalls.inc({ route: "ranked_nodes" });
    const stream = await requireStream(p.id);
    const hint = url.searchParams.get("region") ?? undefined;
    sendJson(res, 200, { streamId: stream.streamId, nodes: rank(stream, { req, hint }, false) });
  });
  router.on("POST", "/v1/streams/:id/upstream", async (req, res, p) => {
    apiCalls.inc({ route: "assign_upstream" });
    const body = parseWith(
      UpstreamRequestSchema,
      await readJson(req, options.maxBodyBytes),
      "upstream request",
    );
    // Only a node itself may move itself in the tree: its bearer token, as for heartbeats.
    const requester = await authenticateNode(lookup, req, body.nodeId);
    const stream = await requireStream(p.id);
    const info = await streamInfo(stream);
    const nodes = await believable(stream.streamId);
    const choice = chooseUpstream({
      stream: { ...stream, ingest: info.ingest.map((n) => n.nodeId) },
      nodeId: body.nodeId,
      requesterRegion: requester.region,
      exclude: body.exclude,
      nodes,
      assignments: await store.listAssignments(stream.streamId),
      now: now(),
      nodeTimeoutMs: options.nodeTimeoutMs,
      maxChildren: options.maxChildren,
      ledgerEdge: accounting.ledgerEdge(stream.streamId),
    });
    if (!choice)
      throw new SrpError("NO_UPSTREAM", `no node can feed ${stream.streamId} to ${body.nodeId} now`);
    await store.upsertAssignment({
      nodeId: body.nodeId,
      streamId: stream.streamId,
      upstreamId: choice.node.nodeId,
      depth: choice.depth,
      assignedAt: now(),
    });
    log.info("upstream assigned", {
      streamId: stream.streamId,
      nodeId: body.nodeId,
      upstream: choice.node.nodeId,
      depth: choice.depth,
    });
    sendJson(res, 200, {
      streamId: stream.streamId,
      upstream: { nodeId: choice.node.nodeId, url: choice.node.url, region: choice.node.region },
      depth: choice.depth,
    });
  });
  router.on("POST", "/v1/nodes", async (req, res) => {
    apiCalls.inc({ route: "register_node" });
    limitRegistrations(req);
    const reg = parseWith(
      NodeRegistrationSchema,
      await readJson(req, options.maxBodyBytes),
      "node registration",
    );
    checkSkew(reg.issuedAt, now(), "node registration");
    checkNodeUrl(reg.url, nodeUrlPolicy);
    await verifyNodeRegistration(reg);
    // The database, not this replica's view: a registration made through another replica
    // a moment ago must be superseded here too (replays are refused by signed time).
    const stored = await store.getNode(reg.nodeId);
    const seen = nodeView.get(reg.nodeId);
    const previous =
      stored && seen && seen.lastHeartbeatAt > stored.lastHeartbeatAt
        ? { ...stored, ...heartbeatFields(seen) }
        : stored;
    if (!registrationSupersedes(previous?.registeredAt, reg.issuedAt)) {
      throw new SrpError("CONFLICT", "a registration signed at or after this one is in force (replay?)");
    }
    const token = randomBytes(32).toString("hex");
    const row: NodeRow = {
      nodeId: reg.nodeId,
      url: reg.url.replace(/\/$/, ""),
      region: reg.region,
      capacityMbps: reg.capacityMbps,
      ingest: reg.ingest,
      streams: reg.streams,
      tokenHash: hashToken(token),
      registeredAt: reg.issuedAt, // the signed time: what the next registration must be later than
      lastHeartbeatAt: previous?.lastHeartbeatAt ?? 0,
      connections: previous?.connections ?? 0,
      egressBps: previous?.egressBps ?? 0,
      bytesServed: previous?.bytesServed ?? 0,
      load: previous?.load ?? [],
      draining: false, // registering again means coming back
    };
    if (!(await nodeView.register(row))) {
      throw new SrpError("CONFLICT", "a registration signed at or after this one is in force (replay?)");
    }
    log.info("node registered", { nodeId: row.nodeId, url: row.url, region: row.region, ingest: row.ingest });
    await ingestChoice.refreshAll(); // its ingest flag, support list or coming back may change a choice
    sendJson(res, 201, { nodeId: row.nodeId, token, heartbeatIntervalMs: options.heartbeatIntervalMs });
  });
  router.on("GET", "/v1/nodes", async (_req, res) => {
    const t = now();
    const nodes = nodeView.list();
    sendJson(res, 200, {
      nodes: nodes.map(({ tokenHash: _secret, ...n }) => ({
        ...n,
        healthy: isHealthy(n, t, options.nodeTimeoutMs),
      })),
    });
  });
  router.on("GET", "/v1/nodes/:id/status", async (_req, res, p) => {
    apiCalls.inc({ route: "node_status" });
    sendJson(
      res,
      200,
      await nodeStatus(
        { store, lookup, accounting, settler, nodeTimeoutMs: options.nodeTimeoutMs, now },
        p.id ?? "",
      ),
    );
  });
  router.on("POST", "/v1/nodes/:id/heartbeat", async (req, res, p) => {
    apiCalls.inc({ route: "heartbeat" });
    const node = await authenticateNode(lookup, req, p.id ?? "");
    const hb = parseWith(HeartbeatSchema, await readJson(req, options.maxBodyBytes), "heartbeat");
    if (hb.nodeId !== node.nodeId) throw new SrpError("FORBIDDEN", "heartbeat names another node");
    const t = now();
    // Memory only: written with the next batch (options.heartbeatFlushMs), not once per heartbeat.
    const updated = nodeView.heartbeat(node.nodeId, {
      lastHeartbeatAt: t,
      connections: hb.connections,
      egressBps: hb.egressBps,
      bytesServed: hb.bytesServed,
      load: hb.streams,
      draining: hb.draining,
    });
    if (hb.draining && !node.draining) log.info("node draining", { nodeId: node.nodeId });
    await ingestChoice.afterHeartbeat(node, updated);
    // Who carries what (demand: viewers, children; standbys) from a plan made for every stream
    // at once, at most once a second, read with this heartbeat's own report.
    const carry = (await carryPlan.carryFor({ ...node, lastHeartbeatAt: t, load: hb.streams })).slice(
      0,
      MAX_HEARTBEAT_STREAMS,
    );
    // The ledger's edges: a relay that far behind them leaves its upstream (UPSTREAM_LAG_SEGMENTS).
    const edges = carry.flatMap((streamId) => {
      const liveEdgeSeq = accounting.ledgerEdge(streamId);
      return liveEdgeSeq === undefined ? [] : [{ streamId, liveEdgeSeq }];
    });
    sendJson(res, 200, { carry, edges });
  });
}
