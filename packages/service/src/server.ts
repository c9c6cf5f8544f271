import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createSecureServer, type Http2Session } from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { SecureContextOptions, TLSSocket } from "node:tls";
import { SrpError } from "@streamrp2p/protocol";
import type { Registry } from "prom-client";
import { HTTP_SERVER_DEFAULTS, type HttpServerLimits } from "./defaults.ts";
import { boundHttp2Session, headerListBytes, MAX_H2_HEADER_PAIRS } from "./h2-bounds.ts";
import type { Router } from "./http.ts";
import { sendError, sendJson } from "./http.ts";
import type { Logger } from "./logger.ts";

/** Concurrent HTTP/2 streams one connection may open (a player needs a handful; a child relay a window's worth). */
const MAX_H2_STREAMS = 128;

export interface HttpServiceOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  router: Router;
  /**
   * Served at /metrics, with /healthz beside it. Without (a relay worker,
   * whose primary answers both), neither route is added.
   */
  metrics?: Registry;
  log: Logger;
  /** Extra fields for /healthz (e.g. stream count); must be cheap. */
  health?: () => Record<string, unknown>;
  /** Timeouts and size caps; each missing one is HTTP_SERVER_DEFAULTS'. */
  limits?: Partial<HttpServerLimits>;
  /**
   * Serve HTTPS (HTTP/2, and HTTP/1.1 for clients without ALPN h2) with this
   * key and certificate chain (PEM); without, plain HTTP/1.1.
   */
  tls?: { key: string; cert: string };
}

export interface RunningHttpServer {
  /** node:http's Server, or with `tls` node:http2's secure server (a tls.Server). */
  server: NetServer;
  /** Base URL, e.g. http://127.0.0.1:8080 (https:// with `tls`) */
  url: string;
  port: number;
  /**
   * Stops listening. With `graceMs`, responses in progress may finish within
   * it (keep-alive connections close as they go idle); without, every
   * connection is cut now.
   */
  close(graceMs?: number): Promise<void>;
  /** With `tls`: serves new connections with this key and chain (a renewed certificate); open ones keep theirs. */
  setCertificate(tls: { key: string; cert: string }): void;
}

/** The defaults overlaid with `given`; BAD_REQUEST for a limit node:http would refuse or misread. */
export function httpServerLimits(given: Partial<HttpServerLimits> = {}): HttpServerLimits {
  const limits: HttpServerLimits = { ...HTTP_SERVER_DEFAULTS };
  for (const [key, value] of Object.entries(given) as [keyof HttpServerLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new SrpError("BAD_REQUEST", `HTTP limit ${key} must be a positive integer, got ${value}`);
    limits[key] = value;
  }
  // node:http refuses a headers timeout longer than the request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new SrpError("BAD_REQUEST", "HTTP limit headersTimeoutMs must not exceed requestTimeoutMs");
  return limits;
}

/** Adds /healthz and /metrics to a router and listens. */
export async function startHttpService(options: HttpServiceOptions): Promise<RunningHttpServer> {
  const { router, metrics } = options;
  if (metrics) {
    router.on("GET", "/healthz", (_req, res) =>
      sendJson(res, 200, { ok: true, ...(options.health?.() ?? {}) }),
    );
    router.on("GET", "/metrics", async (_req, res) => {
      const body = await metrics.metrics();
      res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
      res.end(body);
    });
  }
  const limits = httpServerLimits(options.limits);
  if (options.tls) return startTls(options, options.tls, limits);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    router.handle,
  );
  // Without a 'timeout' listener node:http destroys a socket idle for this long.
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const port = await listen(server, options);
  const url = baseUrl("http", options.host, port);
  options.log.info("listening", { url });
  return {
    server,
    url,
    port,
    close: (graceMs = 0) =>
      new Promise<void>((resolve) => {
        // close() alone leaves keep-alive connections open until they time out.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(idle);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
        if (graceMs <= 0) server.closeAllConnections();
      }),
    setCertificate() {
      throw new SrpError("BAD_REQUEST", "a plain HTTP server has no certificate");
    },
  };
}

async function listen(server: NetServer, options: HttpServiceOptions): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function baseUrl(scheme: "http" | "https", host: string, port: number): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${h === "0.0.0.0" ? "127.0.0.1" : h}:${port}`;
}

/** TLS material for node:tls, with the protocol floor every connection gets. */
function secureOptions(tls: { key: string; cert: string }): SecureContextOptions {
  return { key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" };
}

/**
 * HTTPS: node:http2's secure server with HTTP/1.1 fallback, so the same
 * router answers h2 and HTTP/1.1 clients. HTTP/1.1 connections get
 * node:http's head, request and keep-alive timeouts (set on this server:
 * node:http2 leaves them at node's 60 s / 5 min otherwise); HTTP/2 sessions
 * and streams get the same bounds from boundHttp2Session; a slow handshake
 * is bounded by the headers timeout.
 */
async function startTls(
  options: HttpServiceOptions,
  tls: { key: string; cert: string },
  limits: HttpServerLimits,
): Promise<RunningHttpServer> {
  // The compatibility API's request and response are used as node:http's by the router.
  const handle = options.router.handle as unknown as (req: IncomingMessage, res: ServerResponse) => void;
  const server = createSecureServer(
    {
      ...secureOptions(tls),
      allowHTTP1: true,
      handshakeTimeout: limits.headersTimeoutMs,
      maxSessionMemory: 32, // MB per h2 session; node's default of 10 throttles a fast viewer
      maxHeaderListPairs: MAX_H2_HEADER_PAIRS,
      // Streams per connection bounded like connections are: node's default (2^32-1) let one
      // connection hold thousands of half-sent requests past maxConnections.
      settings: { maxHeaderListSize: limits.maxHeaderBytes, maxConcurrentStreams: MAX_H2_STREAMS },
    },
    ((req: IncomingMessage, res: ServerResponse) => {
      if (req.httpVersionMajor === 1) http1Request(req.socket, res);
      // nghttp2 holds a peer to our maxHeaderListSize only once it acknowledged our SETTINGS
      // (until then ~64 KB, and a peer need never acknowledge): the cap is enforced here.
      if (req.httpVersionMajor === 2 && headerListBytes(req.rawHeaders) > limits.maxHeaderBytes) {
        sendError(
          res,
          new SrpError("HEADERS_TOO_LARGE", `request headers over ${limits.maxHeaderBytes} bytes`),
        );
        return;
      }
      handle(req, res);
    }) as unknown as (req: unknown, res: unknown) => void,
  );
  // Read by node:http's connection handling of the HTTP/1.1 fallback (before listen: the
  // checking interval is started on 'listening').
  Object.assign(server, {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
  });
  server.setTimeout(limits.idleTimeoutMs);
  server.maxConnections = limits.maxConnections;
  // For close(): h2 sessions close gracefully; HTTP/1.1 sockets close once idle (node:http's
  // closeIdleConnections, which this server lacks: an idle keep-alive socket held close() for the
  // whole keep-alive timeout), busy ones are cut after the grace.
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  /** Responses in progress per HTTP/1.1 socket. */
  const busy = new Map<Socket, number>();
  let stopping = false;
  function http1Request(socket: Socket, res: ServerResponse): void {
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) busy.set(socket, left);
      else {
        busy.delete(socket);
        if (stopping) socket.destroy();
      }
    });
  }
  server.on("session", (s: Http2Session) => {
    boundHttp2Session(s, limits);
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  server.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const port = await listen(server, options);
  const url = baseUrl("https", options.host, port);
  options.log.info("listening", { url, tls: true });
  let closing: Promise<void> | undefined;
  return {
    server,
    url,
    port,
    close(graceMs = 0) {
      closing ??= new Promise<void>((resolve) => {
        const cut = () => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
        };
        const timer = setTimeout(cut, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        stopping = true;
        for (const s of sessions) s.close(); // no new streams; open ones finish
        for (const s of sockets) if ((s as TLSSocket).alpnProtocol !== "h2" && !busy.has(s)) s.destroy();
        if (graceMs <= 0) cut();
      });
      return closing;
    },
    setCertificate(next) {
      server.setSecureContext(secureOptions(next));
    },
  };
}
