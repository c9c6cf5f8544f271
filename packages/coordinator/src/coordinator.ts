import { randomBytes } from "node:crypto";
import {
  type Ed25519KeyPair,
  HeartbeatSchema,
  IngestFailureSchema,
  NodeRegistrationSchema,
  OFF_CHAIN_DOMAIN,
  parseWith,
  REGISTRATION_MAX_SKEW_MS,
  RegionSchema,
  registrationSupersedes,
  type SigningDomain,
  SrpError,
  StreamIdSchema,
  type StreamInfo,
  StreamRegistrationSchema,
  UpstreamRequestSchema,
  verifyIngestFailure,
  verifyNodeRegistration,
  verifyStreamRegistration,
} from "@streamrp2p/protocol";
import {
  Counter,
  createMetricsRegistry,
  Gauge,
  guardedFetch,
  type Logger,
  Router,
  type RunningHttpServer,
  readJson,
  sendJson,
  startHttpService,
  type Widen,
} from "@streamrp2p/service";
import { addAccountingRoutes } from "./accounting/accounting-routes.ts";
import { AccountingService } from "./accounting/accounting-service.ts";
import type { SessionIssuer } from "./accounting/sessions.ts";
import { addDashboardRoutes } from "./dashboard-page.ts";
import { COORDINATOR_DEFAULTS } from "./defaults.ts";
import { IngestExclusions } from "./ingest-exclusions.ts";
import { authenticateNode, hashToken } from "./node-auth.ts";
import { nodeStatus } from "./node-status.ts";
import { checkNodeUrl, effectivePolicy, parseNodeUrlPolicy } from "./node-url.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { regionOfAddress, viewerAddress } from "./routing/geo.ts";
import { ViewerIndex } from "./routing/viewer-index.ts";
import { chooseIngest, chooseUpstream, isHealthy, streamsToCarry, withPlausibleEdges } from "./routing.ts";
import { addSettlementRoutes } from "./settlement/settlement-routes.ts";
import { type SettlementConfig, Settler } from "./settlement/settler.ts";
import type { CoordinatorStore, NodeRow, StreamRow } from "./store.ts";
import { loadTicketKey } from "./ticket-key.ts";
import { addViewerRoutes, type ViewerPlace } from "./viewer-routes.ts";
import { addWatchRoutes } from "./watch-page.ts";

export type CoordinatorOptions = Widen<typeof COORDINATOR_DEFAULTS>;

export interface CoordinatorComponents {
  store: CoordinatorStore;
  log: Logger;
  /** Signs session tickets; default: kept under dataDir. */
  ticketKey?: Ed25519KeyPair;
  /** Where the built browser player is (default: packages/player/dist). */
  playerDir?: string;
  /** Post epoch roots on an EVM chain; without it epochs are computed but not settled. */
  settlement?: SettlementConfig;
  /** For the segment ledger and the prober's requests. */
  fetch?: typeof fetch;
  /** ms since the epoch; injected so tests and the simulator control time. */
  now?: () => number;
  /** Uniform in [0, 1) for the prober's and viewer routing's choices; injected so tests and the simulator can steer them. */
  random?: () => number;
  /** A node's operator (the chain's NodeRegistry when settling on one); default: each node its own. */
  operatorOf?: (nodeId: string) => string;
}

export interface Coordinator {
  readonly url: string;
  readonly accounting: AccountingService;
  readonly settler: Settler | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function checkSkew(issuedAt: number, now: number, what: string): void {
  if (Math.abs(now - issuedAt) > REGISTRATION_MAX_SKEW_MS) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `${what}: issuedAt is more than ${REGISTRATION_MAX_SKEW_MS} ms from now`,
    );
  }
}

/** The coordinator: registries and routing over an injected store. */
export function createCoordinator(
  init: Partial<CoordinatorOptions>,
  components: CoordinatorComponents,
): Coordinator {
  const options: CoordinatorOptions = { ...COORDINATOR_DEFAULTS, ...init };
  const { store, log } = components;
  const now = components.now ?? Date.now;
  const registry = createMetricsRegistry("coordinator", true);
  const apiCalls = new Counter({
    name: "srp_coordinator_calls_total",
    help: "API calls by route",
    labelNames: ["route"],
    registers: [registry],
  });
  const healthyNodes = new Gauge({
    name: "srp_coordinator_healthy_nodes",
    help: "Nodes heard from recently",
    registers: [registry],
  });
  let http: RunningHttpServer | undefined;

  async function requireStream(id: string | undefined): Promise<StreamRow> {
    const streamId = parseWith(StreamIdSchema, id, "stream id");
    const stream = await store.getStream(streamId);
    if (!stream) throw new SrpError("STREAM_NOT_FOUND", `stream ${streamId} is not registered`);
    return stream;
  }

  const ingestExclusions = new IngestExclusions(options.ingestExclusionMs, now);
  // What segment attestations and delivery signatures are bound to: the chain and
  // FraudProof contract this coordinator settles on, or no chain at all.
  const domain: SigningDomain = components.settlement
    ? {
        chainId: components.settlement.chainId,
        verifyingContract: components.settlement.deployment.fraudProof,
      }
    : OFF_CHAIN_DOMAIN;
  const nodeUrlPolicy = effectivePolicy(parseNodeUrlPolicy(options.nodeUrls), options.host);

  /** The stream with its ingest relays refreshed (kept while healthy and not reported by its origin). */
  async function streamInfo(stream: StreamRow): Promise<StreamInfo> {
    const nodes = await store.listNodes();
    const ingest = chooseIngest(
      stream,
      nodes,
      now(),
      options.nodeTimeoutMs,
      options.ingestPerStream,
      ingestExclusions.of(stream.streamId),
    );
    if (ingest.join() !== stream.ingest.join()) {
      await store.setIngest(stream.streamId, ingest);
      log.info("ingest relays chosen", { streamId: stream.streamId, ingest });
    }
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    return {
      streamId: stream.streamId,
      signer: stream.signer as `0x${string}`,
      createdAt: stream.createdAt,
      ingest: ingest.flatMap((id) => {
        const n = byId.get(id);
        return n ? [{ nodeId: n.nodeId as `0x${string}`, url: n.url, region: n.region }] : [];
      }),
    };
  }

  /** Nodes as routing may believe them for this stream (reported edges checked against the ledger). */
  const believable = async (streamId: string) =>
    withPlausibleEdges(await store.listNodes(), streamId, accounting.ledgerEdge(streamId));
  // Viewer routing from memory: fed every node row on start, registration and heartbeat.
  const viewerIndex = new ViewerIndex(
    {
      now,
      random: components.random ?? Math.random,
      standing: (id, streamId) => accounting.qualityOf(id, streamId),
      operatorOf: components.operatorOf ?? ((id) => id),
      ledgerEdge: (streamId) => accounting.ledgerEdge(streamId),
    },
    {
      nodeTimeoutMs: options.nodeTimeoutMs,
      candidates: options.viewerCandidates,
      ingestCutoff: options.viewerIngestCutoff,
    },
  );
  const rank = (stream: StreamRow, viewer: ViewerPlace, assign: boolean) =>
    viewerIndex.candidates({
      stream,
      region:
        (viewer.hint === undefined ? undefined : parseWith(RegionSchema, viewer.hint, "region")) ??
        regionOfAddress(viewerAddress(viewer.req, options.trustedProxies)),
      assign,
    });
  let ticketKey: Ed25519KeyPair | undefined;
  const evidenceCounter = new Counter({
    name: "srp_coordinator_evidence_total",
    help: "Tamper reports accepted, by whether the node's own signature proves them",
    labelNames: ["proven"],
    registers: [registry],
  });

  const requireTicketKey = () => {
    if (!ticketKey) throw new SrpError("UNAVAILABLE", "coordinator not started");
    return ticketKey;
  };
  const issuer: SessionIssuer = {
    store: store.accounting,
    ticketKey: requireTicketKey,
    now,
    ticketTtlMs: options.ticketTtlMs,
  };

  const settler = components.settlement
    ? new Settler(
        store.accounting,
        components.settlement,
        log.child("settler"),
        async (streamId) => (await store.getStream(streamId))?.signer,
      )
    : undefined;
  const accounting = new AccountingService(
    {
      store,
      domain,
      issuer,
      log: log.child("accounting"),
      now,
      viewerOrigin: () => http?.url ?? "http://127.0.0.1",
      // Node URLs are checked by name at registration and by address at every connection.
      fetch: components.fetch ?? guardedFetch(nodeUrlPolicy),
      random: components.random,
      onEpochsClosed: settler ? (epochs) => settler.settlePending(epochs) : undefined,
    },
    {
      epochMs: options.epochMs,
      probeIntervalMs: options.probeIntervalMs,
      recordIntervalMs: options.recordIntervalMs,
      ticketGraceMs: options.ticketGraceMs,
      nodeTimeoutMs: options.nodeTimeoutMs,
      evidenceTtlMs: options.evidenceTtlMs,
    },
  );

  const router = new Router(log);
  addAccountingRoutes(router, store, accounting, () => requireTicketKey().publicKey);
  addSettlementRoutes(router, settler, components.settlement);
  addViewerRoutes(router, {
    store,
    domain,
    log,
    now,
    maxBodyBytes: options.maxBodyBytes,
    ticketKey: requireTicketKey,
    issuer,
    limiter: new RateLimiter(options.ticketBurst, options.ticketsPerMinute / 60_000, now),
    subnetLimiter: new RateLimiter(options.ticketBurst * 4, (options.ticketsPerMinute * 4) / 60_000, now),
    requireStream,
    rank,
    onEvidence: (proven) => evidenceCounter.inc({ proven: String(proven) }),
  });
  addWatchRoutes(router, { playerDir: components.playerDir });
  addDashboardRoutes(router);
  router.on("POST", "/v1/streams", async (req, res) => {
    apiCalls.inc({ route: "register_stream" });
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
      log.info("stream registered", { streamId: reg.streamId, signer: reg.signer });
    }
    sendJson(res, existing ? 200 : 201, await streamInfo(row));
  });
  router.on("GET", "/v1/streams", async (_req, res) => {
    const streams = await store.listStreams();
    sendJson(res, 200, { streams: await Promise.all(streams.map(streamInfo)) });
  });
  router.on("GET", "/v1/streams/:id", async (_req, res, p) => {
    apiCalls.inc({ route: "get_stream" });
    sendJson(res, 200, await streamInfo(await requireStream(p.id)));
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
    const requester = await authenticateNode(store, req, body.nodeId);
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
    const reg = parseWith(
      NodeRegistrationSchema,
      await readJson(req, options.maxBodyBytes),
      "node registration",
    );
    checkSkew(reg.issuedAt, now(), "node registration");
    checkNodeUrl(reg.url, nodeUrlPolicy);
    await verifyNodeRegistration(reg);
    const previous = await store.getNode(reg.nodeId);
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
    await store.upsertNode(row);
    viewerIndex.update(row);
    log.info("node registered", { nodeId: row.nodeId, url: row.url, region: row.region, ingest: row.ingest });
    sendJson(res, 201, { nodeId: row.nodeId, token, heartbeatIntervalMs: options.heartbeatIntervalMs });
  });
  router.on("GET", "/v1/nodes", async (_req, res) => {
    const t = now();
    const nodes = await store.listNodes();
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
      await nodeStatus({ store, accounting, settler, nodeTimeoutMs: options.nodeTimeoutMs, now }, p.id ?? ""),
    );
  });
  router.on("POST", "/v1/nodes/:id/heartbeat", async (req, res, p) => {
    apiCalls.inc({ route: "heartbeat" });
    const node = await authenticateNode(store, req, p.id ?? "");
    const hb = parseWith(HeartbeatSchema, await readJson(req, options.maxBodyBytes), "heartbeat");
    if (hb.nodeId !== node.nodeId) throw new SrpError("FORBIDDEN", "heartbeat names another node");
    const t = now();
    accounting.uptime.heartbeat(node.nodeId, t);
    const update = {
      lastHeartbeatAt: t,
      connections: hb.connections,
      egressBps: hb.egressBps,
      bytesServed: hb.bytesServed,
      load: hb.streams,
      draining: hb.draining,
    };
    await store.recordHeartbeat(node.nodeId, update);
    viewerIndex.update({ ...node, ...update });
    if (hb.draining && !node.draining) log.info("node draining", { nodeId: node.nodeId });
    const nodes = await store.listNodes();
    healthyNodes.set(nodes.filter((n) => isHealthy(n, t, options.nodeTimeoutMs)).length);
    const carry = streamsToCarry(
      { ...node, lastHeartbeatAt: t },
      await store.listStreams(),
      nodes,
      t,
      options.nodeTimeoutMs,
    );
    sendJson(res, 200, { carry });
  });

  return {
    accounting,
    settler,
    get url() {
      if (!http) throw new SrpError("UNAVAILABLE", "coordinator not started");
      return http.url;
    },
    async start() {
      await settler?.checkDomain();
      await store.migrate();
      for (const n of await store.listNodes()) viewerIndex.update(n);
      ticketKey = components.ticketKey ?? (await loadTicketKey(options.dataDir));
      await accounting.start();
      http = await startHttpService({
        host: options.host,
        port: options.port,
        router,
        metrics: registry,
        log,
      });
    },
    async stop() {
      accounting.stop();
      await http?.close();
      await store.close();
    },
  };
}
