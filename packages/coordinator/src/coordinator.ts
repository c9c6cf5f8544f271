import { randomBytes } from "node:crypto";
import {
  type Ed25519KeyPair,
  OFF_CHAIN_DOMAIN,
  parseWith,
  RegionSchema,
  type SigningDomain,
  SrpError,
  StreamIdSchema,
  type StreamInfo,
} from "@streamrp2p/protocol";
import {
  Counter,
  createMetricsRegistry,
  Gauge,
  guardedFetch,
  Histogram,
  type Logger,
  Router,
  type RunningHttpServer,
  startHttpService,
  type Widen,
} from "@streamrp2p/service";
import { addAccountingRoutes } from "./accounting/accounting-routes.ts";
import { AccountingService } from "./accounting/accounting-service.ts";
import type { SessionIssuer } from "./accounting/sessions.ts";
import { TicketLimits } from "./accounting/ticket-limits.ts";
import { CarryPlan } from "./carry-plan.ts";
import { COORDINATOR_DEFAULTS } from "./defaults.ts";
import { IngestChoice } from "./ingest-choice.ts";
import { IngestExclusions } from "./ingest-exclusions.ts";
import { effectivePolicy, parseNodeUrlPolicy } from "./node-url.ts";
import { NodeView } from "./node-view.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { addRegistryRoutes } from "./registry/registry-routes.ts";
import { regionOfAddress, viewerAddress } from "./routing/geo.ts";
import { ViewerIndex } from "./routing/viewer-index.ts";
import { isHealthy, withPlausibleEdges } from "./routing.ts";
import { addSettlementRoutes } from "./settlement/settlement-routes.ts";
import { type SettlementConfig, Settler } from "./settlement/settler.ts";
import type { CoordinatorStore, NodeRow, StreamRow } from "./store.ts";
import { StreamListCache } from "./stream-list-cache.ts";
import { loadTicketKey } from "./ticket-key.ts";
import { addViewerRoutes, type ViewerPlace } from "./viewer-routes.ts";
import { addWebRoutes } from "./web/web-routes.ts";

export type CoordinatorOptions = Widen<typeof COORDINATOR_DEFAULTS>;

/** The lease whose holder closes and settles epochs and runs probes. */
const EPOCH_LEASE = "epochs";

export interface CoordinatorComponents {
  store: CoordinatorStore;
  log: Logger;
  /** Signs session tickets; default: kept under dataDir. */
  ticketKey?: Ed25519KeyPair;
  /** Where the built pages and player bundle are (default: packages/coordinator/dist/web, from `npm run build`). */
  webDir?: string;
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

/** The coordinator: registries and routing over an injected store. */
export function createCoordinator(
  init: Partial<CoordinatorOptions>,
  components: CoordinatorComponents,
): Coordinator {
  const options: CoordinatorOptions = { ...COORDINATOR_DEFAULTS, ...init };
  const { store, log } = components;
  const now = components.now ?? Date.now;
  const replicaId = options.replicaId || `replica-${randomBytes(6).toString("hex")}`;
  const registry = createMetricsRegistry("coordinator", true);
  const apiCalls = new Counter({
    name: "srp_coordinator_calls_total",
    help: "API calls by route",
    labelNames: ["route"],
    registers: [registry],
  });
  new Gauge({
    name: "srp_coordinator_healthy_nodes",
    help: "Nodes heard from recently (this replica's view)",
    registers: [registry],
    collect() {
      const t = now();
      this.set(nodeView.list().filter((n) => isHealthy(n, t, options.nodeTimeoutMs)).length);
    },
  });
  const heartbeatRowsWritten = new Counter({
    name: "srp_coordinator_heartbeat_rows_written_total",
    help: "Node rows written by batched heartbeat flushes",
    registers: [registry],
  });
  const heartbeatStatements = new Counter({
    name: "srp_coordinator_heartbeat_statements_total",
    help: "Database statements spent writing heartbeat batches",
    registers: [registry],
  });
  const heartbeatFlushSeconds = new Histogram({
    name: "srp_coordinator_heartbeat_flush_seconds",
    help: "Time to write one heartbeat batch",
    buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  let http: RunningHttpServer | undefined;

  async function requireStream(id: string | undefined): Promise<StreamRow> {
    const streamId = parseWith(StreamIdSchema, id, "stream id");
    const stream = await streams.get(streamId);
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

  /** The stream as stored, with its ingest relays' URLs: what GETs answer (they never choose). */
  function describeStream(stream: StreamRow): StreamInfo {
    const byId = nodeView.byId();
    return {
      streamId: stream.streamId,
      signer: stream.signer as `0x${string}`,
      createdAt: stream.createdAt,
      ingest: stream.ingest.flatMap((id) => {
        const n = byId.get(id);
        return n ? [{ nodeId: n.nodeId as `0x${string}`, url: n.url, region: n.region }] : [];
      }),
    };
  }

  /** For writes: the stream with its ingest relays re-chosen (kept while usable and not reported by its origin). */
  async function streamInfo(stream: StreamRow): Promise<StreamInfo> {
    return describeStream(await ingestChoice.refresh(stream));
  }

  /** Nodes as routing may believe them for this stream (reported edges checked against the ledger). */
  const believable = async (streamId: string) =>
    withPlausibleEdges(nodeView.list(), streamId, accounting.ledgerEdge(streamId));
  // Viewer routing from memory: fed every node row the view learns (start, registration,
  // heartbeat, another replica's writes).
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
  const accounting: AccountingService = new AccountingService(
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
      nodes: async (): Promise<NodeRow[]> => nodeView.list(),
      lead: () => store.acquireLease(EPOCH_LEASE, replicaId, options.leaseTtlMs),
      leaseRenewMs: Math.max(100, Math.floor(options.leaseTtlMs / 4)),
    },
    {
      epochMs: options.epochMs,
      probeIntervalMs: options.probeIntervalMs,
      probeEachNodeMs: options.probeEachNodeMs,
      maxProbesPerSecond: options.maxProbesPerSecond,
      recordIntervalMs: options.recordIntervalMs,
      ticketGraceMs: options.ticketGraceMs,
      nodeTimeoutMs: options.nodeTimeoutMs,
      evidenceTtlMs: options.evidenceTtlMs,
    },
  );

  const streams = new StreamListCache(store, now, options.nodeRefreshMs);
  const carryPlan = new CarryPlan(
    async () => ({
      streams: await streams.list(),
      nodes: nodeView.list(),
      assignments: await store.listAllAssignments(),
    }),
    now,
    options.nodeTimeoutMs,
    { minRelaysPerStream: options.minRelaysPerStream, recruitLoadRatio: options.recruitLoadRatio },
    options.nodeRefreshMs,
  );
  const nodeView: NodeView = new NodeView(store, accounting.uptime, now, log.child("nodes"));
  // Every row that changes in this replica's view, from any replica, reaches the viewer index.
  nodeView.onChange((n) => viewerIndex.update(n));
  const lookup = (id: string) => nodeView.fetch(id);
  const ingestChoice = new IngestChoice(
    {
      store,
      nodes: () => nodeView.list(),
      exclusions: ingestExclusions,
      now,
      log,
      onChange: () => {
        streams.invalidate();
        carryPlan.invalidate();
      },
    },
    {
      nodeTimeoutMs: options.nodeTimeoutMs,
      perStream: options.ingestPerStream,
      sweepMs: options.ingestSweepMs,
    },
  );
  const router = new Router(log);
  addAccountingRoutes(router, store, accounting, () => requireTicketKey().publicKey, lookup);
  addSettlementRoutes(router, settler, components.settlement);
  addViewerRoutes(router, {
    store,
    domain,
    log,
    now,
    maxBodyBytes: options.maxBodyBytes,
    ticketKey: requireTicketKey,
    issuer,
    ticketLimits: new TicketLimits(options, now),
    requireStream,
    rank,
    onEvidence: (proven) => evidenceCounter.inc({ proven: String(proven) }),
    trustedProxies: options.trustedProxies,
  });
  addWebRoutes(router, { webDir: components.webDir, replicaUrls: options.replicaUrls });
  addRegistryRoutes(router, {
    registrations: new RateLimiter(options.registrationBurst, options.registrationsPerMinute / 60_000, now),
    store,
    options,
    log,
    now,
    apiCalls,
    nodeUrlPolicy,
    nodeView,
    lookup,
    carryPlan,
    ingestChoice,
    ingestExclusions,
    accounting,
    settler,
    requireStream,
    describeStream,
    streamInfo,
    believable,
    rank,
    streams,
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
      await nodeView.load();
      nodeView.start({
        flushIntervalMs: options.heartbeatFlushMs,
        refreshIntervalMs: options.nodeRefreshMs,
        onFlush: (rows, statements, ms) => {
          heartbeatRowsWritten.inc(rows);
          heartbeatStatements.inc(statements);
          heartbeatFlushSeconds.observe(ms / 1000);
        },
      });
      ingestChoice.start();
      ticketKey = components.ticketKey ?? (await loadTicketKey(options.dataDir, options.ticketKeyFile));
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
      await ingestChoice.stop();
      await nodeView.stop();
      await store.releaseLease(EPOCH_LEASE, replicaId).catch(() => {});
      await store.close();
    },
  };
}
