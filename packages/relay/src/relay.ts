import type { CoordinatorClient } from "@streamrp2p/api-client";
import {
  AttestationVerifier,
  type CoordinatorInfo,
  checkRungName,
  type Heartbeat,
  MAX_HEARTBEAT_STREAMS,
  OFF_CHAIN_DOMAIN,
  parseWith,
  ReceiptSubmissionSchema,
  type SigningDomain,
  SrpError,
  type StreamEdge,
  supportsStream,
} from "@streamrp2p/protocol";
import {
  type FetchLike,
  guardedFetch,
  type HttpServerLimits,
  httpServerLimits,
  type Logger,
  Router,
  type RunningHttpServer,
  readJson,
  resolveAddressPolicy,
  sendJson,
  startHttpService,
} from "@streamrp2p/service";
import type { LocalAccount } from "viem";
import { CarryDemand } from "./carry-demand.ts";
import { coordinatorDirectory, coordinatorResolver } from "./coordinator-ports.ts";
import { RELAY_DEFAULTS, TLS_DEFAULTS, type TlsTimings } from "./defaults.ts";
import { DeliverySigner, type ServedBytes } from "./delivery-signer.ts";
import { HeartbeatLoop } from "./heartbeat.ts";
import { handleEnd, handlePut, type IngestContext } from "./ingest.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";
import type { StreamDirectory, UpstreamResolver } from "./ports.ts";
import { handleProbeFetch, NonceWindow, type ProbeFetchContext } from "./probe-fetch.ts";
import { StreamPuller } from "./puller.ts";
import { ReceiptStore } from "./receipt-store.ts";
import { ReceiptSubmitter } from "./receipt-submitter.ts";
import { type ServeContext, serveMedia } from "./serve.ts";
import { SessionLedger } from "./session-ledger.ts";
import { StreamTable } from "./stream-table.ts";
import { CertificateManager } from "./tls/certificate-manager.ts";
import { CertificateStore } from "./tls/certificate-store.ts";
import { createWorkerFront, type WorkerFront, workerCount } from "./workers/primary.ts";

/** HTTPS for the relay: a certificate from files, or obtained and renewed over ACME (http-01). */
export type RelayTls = (
  | {
      mode: "acme";
      /** The CA's ACME directory URL. */
      directoryUrl: string;
      /** Account contact, e.g. mailto:ops@example.com. */
      contact?: string;
      /** The CA's certificate profile, e.g. Let's Encrypt's "shortlived" (needed for IP certificates). */
      profile?: string;
      /** The relay's DNS name, or its public IP address (where the CA issues IP certificates). */
      identifier: string;
      /** Account key and certificate, 0600. */
      dir: string;
      /** Extra CA certificates (PEM) to trust for the directory's own HTTPS (a private CA). */
      caPem?: string;
      /** Where the http-01 challenge listener binds; default the relay's host and port 80. */
      challengeHost?: string;
      challengePort?: number;
    }
  | { mode: "files"; keyFile: string; certFile: string }
) &
  Partial<Omit<TlsTimings, "challengePort">>;

/** Receipts GET /v1/receipts lists at most (the newest). */
const RECEIPTS_LISTED = 1_000;

export interface RelayOptions {
  host: string;
  port: number;
  /** URL others reach this node at; default the listening address. */
  publicUrl?: string;
  region: string;
  capacityMbps: number;
  /** Accept pushes from origins (be an ingest relay). */
  ingest: boolean;
  /** Streams to restream; empty = whatever the coordinator asks. */
  streams: string[];
  maxSegments: number;
  playlistSegments: number;
  maxSegmentBytes: number;
  maxStreams: number;
  idleStreamMs: number;
  maxWaitersPerStream: number;
  heartbeatIntervalMs: number;
  windowWaitMs: number;
  segmentWaitMs: number;
  upstreamIdleTimeoutMs: number;
  upstreamFailuresBeforeReparent: number;
  /** A pulled stream neither carried for the coordinator nor requested for this long is torn down (ms). */
  carryGraceMs: number;
  /** How often changed receipts are uploaded to the coordinator. */
  receiptSubmitIntervalMs: number;
  /** On drain: how long viewers and child relays get to move (and send last receipts). */
  drainGraceMs: number;
  /** On drain: the longest it may take, in-flight responses included. */
  drainTimeoutMs: number;
  /** Which addresses node URLs may reach: upstreams and probe tasks (see RELAY_DEFAULTS.nodeAddresses). */
  nodeAddresses: "auto" | "public" | "any";
  /** HTTP server limits (slow clients, header size, connections); each missing one is HTTP_SERVER_DEFAULTS'. */
  httpLimits?: Partial<HttpServerLimits>;
  /** Processes serving viewers (see RELAY_DEFAULTS.workers); 1 = this process alone, 0 = one per CPU core. */
  workers: number;
  /** HTTPS (HTTP/2 and HTTP/1.1); default plain HTTP. With workers, they serve it and get each renewal. */
  tls?: RelayTls;
}

export interface RelayComponents {
  /** The node's key: its id and what it signs with. */
  account: LocalAccount;
  log: Logger;
  /** Without a coordinator, `directory` and `resolver` must be given. */
  coordinator?: CoordinatorClient;
  directory?: StreamDirectory;
  resolver?: UpstreamResolver;
  /** The coordinator's ticket key; default: asked of the coordinator once. */
  ticketPublicKey?: () => Promise<string>;
  /**
   * The deployment attestations and delivery signatures are bound to; default:
   * asked of the coordinator once, or no chain (OFF_CHAIN_DOMAIN) without one.
   */
  domain?: SigningDomain;
  fetch?: FetchLike;
  /** The clock (ms since the Unix epoch); default Date.now. */
  now?: () => number;
  /** What this node serves for an object; default its own verified bytes (see ServedBytes). */
  servedBytes?: ServedBytes;
}

export interface Relay {
  readonly nodeId: string;
  readonly url: string;
  readonly metrics: RelayMetrics;
  readonly receipts: ReceiptStore;
  readonly ledger: SessionLedger;
  stream(streamId: string): ReturnType<StreamTable["get"]>;
  /**
   * Starts pulling these streams; stops pulling the others once nothing
   * wanted them for `carryGraceMs`. `edges`: the streams' live edges from the
   * coordinator's ledger (an upstream far behind them is left).
   */
  carry(streamIds: readonly string[], edges?: readonly StreamEdge[]): void;
  readonly draining: boolean;
  /** The bearer token the coordinator gave this node: for components that act for it (a custom resolver). */
  readonly coordinatorToken: string | undefined;
  start(): Promise<void>;
  /**
   * Leaves gracefully: tells the coordinator, refuses new requests (viewers
   * and child relays move), waits the grace for viewers' last receipts,
   * stops listening while responses in progress finish, submits the
   * receipts, then stops.
   */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** The URL a server listening on host:port is reached at (a wildcard address: via loopback). */
function listeningUrl(host: string, port: number, scheme = "http"): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${h === "0.0.0.0" ? "127.0.0.1" : h}:${port}`;
}

/** An ACME relay's URL: its certificate's name (the default port left out). */
function certificateUrl(identifier: string, port: number): string {
  const h = identifier.includes(":") ? `[${identifier}]` : identifier;
  return `https://${h}${port === 443 ? "" : `:${port}`}`;
}

/** Creates a relay node: HTTP serving, push ingest, pulling, heartbeats. Nothing runs until start(). */
export function createRelay(init: Partial<RelayOptions>, components: RelayComponents): Relay {
  const options: RelayOptions = {
    ...RELAY_DEFAULTS,
    ingest: false,
    streams: [],
    ...init,
  };
  const { account, log } = components;
  const nodeId = account.address.toLowerCase() as `0x${string}`;
  const metrics = createRelayMetrics();
  const fetchImpl = components.fetch ?? fetch;
  const directory =
    components.directory ??
    (components.coordinator ? coordinatorDirectory(components.coordinator) : undefined);
  const resolver =
    components.resolver ??
    (components.coordinator
      ? coordinatorResolver(components.coordinator, nodeId, () => heartbeat?.token)
      : undefined);
  if (!directory) throw new SrpError("BAD_REQUEST", "relay needs a coordinator or a stream directory");

  let info: Promise<CoordinatorInfo> | undefined;
  const coordinatorInfo = () => {
    const client = components.coordinator;
    if (!client) return Promise.reject(new SrpError("UNAVAILABLE", "no coordinator to ask"));
    info ??= client.info();
    info.catch(() => {
      info = undefined; // ask again next time
    });
    return info;
  };
  const ticketPublicKey =
    components.ticketPublicKey ?? (() => coordinatorInfo().then((i) => i.ticketPublicKey));
  const fixedDomain = components.domain ?? (components.coordinator ? undefined : OFF_CHAIN_DOMAIN);
  const domain = (): Promise<SigningDomain> =>
    fixedDomain ? Promise.resolve(fixedDomain) : coordinatorInfo().then((i) => i.domain);
  const receipts = new ReceiptStore({ nodeId, ticketPublicKey });
  const ledger = new SessionLedger();
  const now = components.now ?? Date.now;
  const signer = new DeliverySigner(account, domain, components.servedBytes);
  // With workers, this process keeps the one copy of everything that must be single (ingest,
  // pulling, receipts, heartbeats, probes) and the workers serve viewers (workers/primary.ts).
  const workers = workerCount(options.workers);
  const front: WorkerFront | undefined =
    workers > 1
      ? createWorkerFront({
          count: workers,
          host: options.host,
          port: options.port,
          limits: httpServerLimits(options.httpLimits),
          live: options,
          segmentWaitMs: options.segmentWaitMs,
          windowWaitMs: options.windowWaitMs,
          signer,
          metrics,
          ledger,
          streams: () => streams.values(),
          onAsked: (id) => askedFor(id),
          log,
        })
      : undefined;
  const streams = new StreamTable(options, now, (size) => metrics.streams.set(size), front?.observer);
  const attestations = new AttestationVerifier(domain);
  const pullers = new Map<string, StreamPuller>();
  /** Pullers finishing their objects in flight after the origin took the stream over (stopped on stop()). */
  const retiring = new Set<StreamPuller>();
  const demand = new CarryDemand(options.carryGraceMs, now);
  const tls = options.tls;
  // With workers, they serve HTTPS on the public port; this process's internal port stays plain.
  const certificates = tls
    ? createCertificateManager(tls, now, log, metrics, (c) =>
        front ? front.setCertificate(c) : http?.setCertificate(c),
      )
    : undefined;
  let challengeHttp: RunningHttpServer | undefined;
  let http: RunningHttpServer | undefined;
  let heartbeat: HeartbeatLoop | undefined;
  let submitter: ReceiptSubmitter | undefined;
  let connections = 0;
  let draining = false;
  let drained: Promise<void> | undefined;
  let lastBeat = { at: now(), bytes: 0 };

  const isPulled = (streamId: string) => pullers.has(streamId);
  let sweeper: NodeJS.Timeout | undefined;

  const ingestCtx: IngestContext = {
    acceptsPush: options.ingest,
    maxSegmentBytes: options.maxSegmentBytes,
    metrics,
    log: log.child("ingest"),
    attestations,
    async signerOf(streamId) {
      const known = streams.get(streamId)?.signer ?? (await directory.signerOf(streamId));
      if (!known) throw new SrpError("STREAM_NOT_FOUND", `stream ${streamId} is not registered`);
      return known;
    },
    openPushStream: (streamId, signer) => streams.open(streamId, signer, isPulled),
    domain,
    draining: () => draining,
    heldStream: (streamId) => streams.get(streamId),
  };
  const serveCtx: ServeContext = {
    signer,
    ledger,
    stream: (id) => streams.get(id),
    metrics,
    segmentWaitMs: options.segmentWaitMs,
    windowWaitMs: options.windowWaitMs,
    draining: () => draining,
  };

  // Upstream URLs and probe tasks' URLs are nodes' registered URLs: internal addresses
  // are refused at connect time on a public network (SSRF through this relay).
  const nodePolicy = resolveAddressPolicy(
    options.nodeAddresses,
    components.coordinator?.baseUrls ?? `http://${options.host}`,
  );
  const nodeFetch = nodePolicy === "public" ? guardedFetch("public") : fetchImpl;
  const probeCtx: ProbeFetchContext = {
    nodeId: account.address,
    ticketPublicKey,
    nonces: new NonceWindow(now),
    fetch: nodeFetch,
    now,
  };

  const router = new Router(log)
    .on("GET", "/live/:stream/:file", (req, res, p, url) => {
      askedFor(p.stream ?? "");
      return serveMedia(serveCtx, req, res, p.stream ?? "", p.file ?? "", url);
    })
    .on("PUT", "/live/:stream/:file", async (req, res, p) => {
      const id = p.stream ?? "";
      await handlePut(ingestCtx, req, res, id, p.file ?? "");
      // The origin pushes this stream here now (this relay became one of its ingest relays):
      // pulling it as well would only compete with the pushes (an upstream that died holds
      // objects in flight), so the pushes alone feed it from here on. The objects already in
      // flight are finished first: readers wait on them and the origin pushes only newer ones.
      const puller = pullers.get(id);
      if (puller && res.statusCode >= 200 && res.statusCode < 300) {
        pullers.delete(id);
        retiring.add(puller);
        puller.retire();
        log.info("pushed to by the origin: stops pulling once its objects in flight are whole", {
          streamId: id,
        });
      }
    })
    .on("POST", "/live/:stream/end", (req, res, p) => handleEnd(ingestCtx, req, res, p.stream ?? ""))
    // A transcoded rung of the stream's ladder: its own window, playlist and objects, one folder down.
    .on("GET", "/live/:stream/:rung/:file", (req, res, p, url) => {
      askedFor(p.stream ?? "");
      return serveMedia(serveCtx, req, res, p.stream ?? "", p.file ?? "", url, p.rung ?? "");
    })
    .on("PUT", "/live/:stream/:rung/:file", async (req, res, p) => {
      checkRungName(p.rung ?? "");
      await handlePut(ingestCtx, req, res, p.stream ?? "", p.file ?? "", p.rung ?? "");
    })
    .on("POST", "/v1/probe", (req, res) => handleProbeFetch(probeCtx, req, res))
    .on("POST", "/v1/receipts", async (req, res) => {
      const submission = parseWith(ReceiptSubmissionSchema, await readJson(req, 8 * 1024), "receipt");
      const stored = await receipts.accept(submission);
      const served = ledger.get(stored.receipt.sessionId);
      sendJson(res, 200, { ok: true, servedBytes: served?.bytes ?? 0 });
    })
    .on("GET", "/v1/receipts", (_req, res, _p, url) => {
      const streamId = url.searchParams.get("streamId") ?? undefined;
      // The newest receipts without their tickets: viewer keys and ticket signatures are nobody else's business.
      sendJson(res, 200, {
        nodeId,
        receipts: receipts
          .list(streamId, RECEIPTS_LISTED)
          .map((receipt) => ({ receipt, servedBytes: ledger.get(receipt.sessionId)?.bytes ?? 0 })),
      });
    });

  async function startPuller(streamId: string): Promise<void> {
    if (pullers.has(streamId) || !resolver) return;
    const signer = await directory?.signerOf(streamId);
    if (!signer || pullers.has(streamId) || draining) return;
    if (!supportsStream(options.streams, streamId, signer)) return;
    const stream = streams.open(streamId, signer, isPulled);
    const puller = new StreamPuller({
      stream,
      resolver,
      fetch: nodeFetch,
      domain,
      log: log.child("pull"),
      metrics,
      options,
      attestations,
    });
    pullers.set(streamId, puller);
    puller.start();
  }

  /**
   * A viewer (or a relay) asks for a stream this relay does not hold: start
   * pulling it, so the next request finds it (this one is refused; the player
   * tries its next node). Ingest relays do not: they feed the tree. The id is
   * checked with the coordinator first (cached), and the relay holds at most
   * maxStreams, so made-up or unsupported ids start nothing.
   */
  function pullOnDemand(streamId: string): void {
    if (options.ingest || draining || !resolver || pullers.has(streamId)) return;
    void startPuller(streamId)
      .then(() => {
        if (pullers.has(streamId)) demand.touch(streamId);
      })
      .catch((err: unknown) => log.debug("cannot pull on demand", { streamId, err }));
  }

  /** A viewer or child relay asked for this stream's media (here, or at a worker): demand. */
  function askedFor(id: string): void {
    if (streams.get(id)) demand.touch(id);
    else pullOnDemand(id);
  }

  function tearDown(streamId: string, puller: StreamPuller): void {
    puller.stop();
    pullers.delete(streamId);
    streams.drop(streamId);
    log.info("stream torn down: no viewers, children or carry request", {
      streamId,
      graceMs: options.carryGraceMs,
    });
  }

  function snapshot(): Heartbeat {
    const at = now();
    const bytes = metrics.totals.bytesServed;
    const egressBps = ((bytes - lastBeat.bytes) * 8 * 1000) / Math.max(1, at - lastBeat.at);
    lastBeat = { at, bytes };
    return {
      nodeId,
      connections: front ? front.connections() : connections,
      egressBps,
      bytesServed: bytes,
      streams: streams.mostActive(MAX_HEARTBEAT_STREAMS).map((s) => ({
        streamId: s.streamId,
        upstream: s.source === "push" ? null : (s.source as `0x${string}`),
        liveEdgeSeq: s.liveEdgeSeq,
        viewers: ledger.activeViewers(s.streamId, 3 * options.heartbeatIntervalMs + 5_000),
      })),
      draining,
    };
  }

  const relay: Relay = {
    nodeId,
    get url() {
      if (!http) throw new SrpError("UNAVAILABLE", "relay not started");
      if (options.publicUrl) return options.publicUrl;
      const identifier = certificates?.identifier;
      if (identifier) return certificateUrl(identifier, front ? front.port : http.port);
      if (front) return listeningUrl(options.host, front.port, tls ? "https" : "http");
      return http.url;
    },
    metrics,
    receipts,
    ledger,
    stream: (id) => streams.get(id),

    get draining() {
      return draining;
    },
    get coordinatorToken() {
      return heartbeat?.token;
    },
    carry(streamIds, edges = []) {
      if (draining) return;
      // Supported streamers are matched by signer in startPuller; the coordinator filters too.
      const wanted = new Set(streamIds);
      for (const id of wanted) {
        demand.touch(id);
        void startPuller(id).catch((err: unknown) => log.warn("cannot carry stream", { streamId: id, err }));
      }
      for (const [id, p] of pullers) if (!wanted.has(id) && demand.expired(id)) tearDown(id, p);
      for (const p of retiring) if (!p.running) retiring.delete(p);
      demand.retain((id) => pullers.has(id) || streams.get(id) !== undefined);
      for (const e of edges) pullers.get(e.streamId)?.observeLedgerEdge(e.liveEdgeSeq);
    },
    async start() {
      try {
        await startParts();
      } catch (err) {
        // Whatever did start is released: a retry (or the next process) can bind the same ports.
        await releaseParts();
        throw err;
      }
    },
    drain() {
      drained ??= (async () => {
        draining = true;
        const started = Date.now();
        log.info("draining", { nodeId, graceMs: options.drainGraceMs });
        for (const s of streams.values()) s.wakeAll(); // child relays' long-polls answer DRAINING now
        front?.drain();
        await heartbeat?.beatNow(); // the coordinator stops routing to us
        const deadline = started + options.drainTimeoutMs;
        // Still listening: viewers and children move, and viewers send their last receipts.
        const graceEnd = Math.min(deadline, started + options.drainGraceMs);
        await new Promise((r) => setTimeout(r, Math.max(0, graceEnd - Date.now())));
        // Then no new connections; responses in progress finish (the pullers still feed them).
        await front?.close(Math.max(0, deadline - Date.now())); // workers first: they pass requests to us
        await http?.close(Math.max(0, deadline - Date.now()));
        log.info("drained", { nodeId, ms: Date.now() - started });
        await relay.stop();
      })();
      return drained;
    },
    async stop() {
      await submitter?.stop(); // the last receipts are worth something: submit before going
      heartbeat?.stop();
      clearInterval(sweeper);
      for (const p of [...pullers.values(), ...retiring]) p.stop();
      pullers.clear();
      retiring.clear();
      for (const s of streams.values()) s.wakeAll();
      certificates?.stop();
      await front?.stop();
      await http?.close();
      await challengeHttp?.close();
    },
  };
  /** Starts listening (challenge listener, certificate, HTTP service, workers), then the coordinator loops. */
  async function startParts(): Promise<void> {
    let served: { key: string; cert: string } | undefined;
    if (certificates && tls) {
      if (tls.mode === "acme")
        challengeHttp = await startChallengeServer(tls, certificates, log, () => relay.url);
      served = await certificates.start();
    }
    const servedTls = served ? { key: served.key, cert: served.cert } : undefined;
    http = await startHttpService({
      ...(servedTls && !front ? { tls: servedTls } : {}),
      // With workers, they hold the public port; this process answers them on an internal one.
      host: front ? "127.0.0.1" : options.host,
      port: front ? 0 : options.port,
      limits: options.httpLimits,
      router,
      metrics: metrics.registry,
      log,
      health: () => ({
        nodeId,
        streams: streams.size,
        registered: heartbeat?.registered ?? false,
        draining,
        ...(front ? { workers: front.health() } : {}),
        ...(certificates ? { tls: certificates.status() } : {}),
      }),
    });
    if (front) await front.start(http.url, servedTls);
    http.server.on("connection", (socket) => {
      connections += 1;
      metrics.connections.set(connections);
      socket.once("close", () => {
        connections -= 1;
        metrics.connections.set(connections);
      });
    });
    if (components.coordinator) {
      heartbeat = new HeartbeatLoop({
        client: components.coordinator,
        account,
        log: log.child("heartbeat"),
        intervalMs: options.heartbeatIntervalMs,
        registration: () => ({
          url: relay.url,
          region: options.region,
          capacityMbps: options.capacityMbps,
          ingest: options.ingest,
          streams: options.streams,
        }),
        snapshot,
        onCarry: (ids, edges) => relay.carry(ids, edges),
      });
      await heartbeat.start();
      sweeper = setInterval(
        () => {
          streams.sweep(isPulled);
          receipts.sweep();
        },
        Math.max(1_000, options.idleStreamMs / 4),
      );
      sweeper.unref();
      const hb = heartbeat;
      submitter = new ReceiptSubmitter({
        client: components.coordinator,
        store: receipts,
        nodeId,
        token: () => hb.token,
        log: log.child("receipts"),
        intervalMs: options.receiptSubmitIntervalMs,
      });
      submitter.start();
    }
  }

  /** After a failed start: stops and closes whatever started, so nothing stays bound or scheduled. */
  async function releaseParts(): Promise<void> {
    heartbeat?.stop();
    clearInterval(sweeper);
    certificates?.stop();
    const [f, h, c] = [front, http, challengeHttp];
    heartbeat = undefined;
    http = undefined;
    challengeHttp = undefined;
    await f?.stop().catch((err: unknown) => log.warn("workers did not stop", { err }));
    await h?.close();
    await c?.close();
  }

  return relay;
}

function createCertificateManager(
  tls: RelayTls,
  now: () => number,
  log: Logger,
  metrics: RelayMetrics,
  onRenewed: (cert: { key: string; cert: string }) => void,
): CertificateManager {
  const t = { ...TLS_DEFAULTS, ...tls };
  return new CertificateManager({
    source:
      tls.mode === "files"
        ? { mode: "files", keyFile: tls.keyFile, certFile: tls.certFile }
        : {
            mode: "acme",
            store: new CertificateStore(tls.dir),
            acme: {
              directoryUrl: tls.directoryUrl,
              identifier: tls.identifier,
              ...(tls.contact ? { contact: tls.contact } : {}),
              ...(tls.profile ? { profile: tls.profile } : {}),
              ...(tls.caPem ? { caPem: tls.caPem } : {}),
              requestTimeoutMs: t.requestTimeoutMs,
              maxResponseBytes: t.maxResponseBytes,
              pollAttempts: t.pollAttempts,
              pollMinMs: t.pollMinMs,
              pollMaxMs: t.pollMaxMs,
            },
          },
    renewBeforeFraction: t.renewBeforeFraction,
    retryMinMs: t.retryMinMs,
    retryMaxMs: t.retryMaxMs,
    checkIntervalMs: t.checkIntervalMs,
    startAttempts: t.startAttempts,
    now,
    log: log.child("tls"),
    metrics,
    onRenewed,
  });
}

/**
 * The plain-HTTP listener the CA's http-01 validation reaches (port 80 in
 * production): the token's key authorization while an order is open, 404
 * for any other token; every other request is redirected to the relay's
 * HTTPS URL (never to the client's Host: no open redirect).
 */
function startChallengeServer(
  tls: Extract<RelayTls, { mode: "acme" }>,
  certificates: CertificateManager,
  log: Logger,
  httpsUrl: () => string,
): Promise<RunningHttpServer> {
  const router = new Router(log)
    .on("GET", "/.well-known/acme-challenge/:token", (_req, res, p) => {
      const answer = certificates.challenge(p.token ?? "");
      if (answer === undefined) throw new SrpError("NOT_FOUND", "no such challenge");
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
      res.end(answer);
    })
    .otherwise((_req, res, _p, url) => {
      let base: string;
      try {
        base = new URL(httpsUrl()).origin;
      } catch {
        throw new SrpError("UNAVAILABLE", "HTTPS is not up yet");
      }
      // Joined, never resolved: a path that collapses to "//host/..." must not name another host.
      const target = `${base}/${url.pathname.replace(/^\/+/, "")}${url.search}`;
      res.writeHead(308, { location: target, "content-length": "0" });
      res.end();
    });
  return startHttpService({
    host: tls.challengeHost ?? "0.0.0.0",
    port: tls.challengePort ?? TLS_DEFAULTS.challengePort,
    router,
    log: log.child("acme-challenge"),
  });
}
