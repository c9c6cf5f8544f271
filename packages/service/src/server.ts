import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Router } from "./http.ts";
import { sendJson } from "./http.ts";
import type { Logger } from "./logger.ts";

export interface HttpServiceOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  router: Router;
  metrics: Registry;
  log: Logger;
  /** Extra fields for /healthz (e.g. stream count); must be cheap. */
  health?: () => Record<string, unknown>;
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

/** Adds /healthz and /metrics to a router and listens. */
export async function startHttpService(options: HttpServiceOptions): Promise<RunningHttpServer> {
  const { router, metrics } = options;
  router.on("GET", "/healthz", (_req, res) =>
    sendJson(res, 200, { ok: true, ...(options.health?.() ?? {}) }),
  );
  router.on("GET", "/metrics", async (_req, res) => {
    const body = await metrics.metrics();
    res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
    res.end(body);
  });
  const server = createServer(
    { keepAliveTimeout: 65_000 /* ms, above common LB idle timeouts */ },
    router.handle,
  );
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
