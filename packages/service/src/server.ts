import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SrpError } from "@streamrp2p/protocol";
import type { Registry } from "prom-client";
import { HTTP_SERVER_DEFAULTS, type HttpServerLimits } from "./defaults.ts";
import type { Router } from "./http.ts";
import { sendJson } from "./http.ts";
import type { Logger } from "./logger.ts";

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
}

export interface RunningHttpServer {
  server: Server;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /**
   * Stops listening. With `graceMs`, responses in progress may finish within
   * it (keep-alive connections close as they go idle); without, every
   * connection is cut now.
   */
  close(graceMs?: number): Promise<void>;
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
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
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
  };
}
