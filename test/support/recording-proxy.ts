import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  responseHeaders: Record<string, string>;
  body: Buffer;
}

/** A real HTTP proxy that records what a relay is asked and what it answers. */
export class RecordingProxy {
  readonly log: Recorded[] = [];
  #server: Server | undefined;
  url = "";

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        try {
          const body = Buffer.concat(chunks);
          const upstream = await fetch(`${this.target}${req.url}`, {
            method: req.method,
            headers: { "content-type": req.headers["content-type"] ?? "application/octet-stream" },
            body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
          });
          const out = Buffer.from(await upstream.arrayBuffer());
          const responseHeaders: Record<string, string> = {};
          upstream.headers.forEach((v, k) => {
            if (!["date", "connection", "keep-alive", "transfer-encoding"].includes(k))
              responseHeaders[k] = v;
          });
          this.log.push({
            path: req.url ?? "",
            headers: req.headers,
            status: upstream.status,
            responseHeaders,
            body: out,
          });
          res.writeHead(upstream.status, responseHeaders);
          res.end(out);
        } catch {
          res.destroy();
        }
      });
    });
    this.#server = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
