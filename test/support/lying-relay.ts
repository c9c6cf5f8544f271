import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Answer {
  status: number;
  /** Only content-type and the x-srp-* headers of the honest answer are passed on. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A hostile relay: a real HTTP server in front of an honest relay that answers
 * every GET with `rewrite(path, honest answer)`, and takes receipts (POST) without
 * looking at them, as a cheating node would.
 */
export class LyingRelay {
  #server: Server | undefined;
  url = "";

  constructor(
    private readonly honest: string,
    private readonly rewrite: (path: string, honest: Answer) => Answer,
  ) {}

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      void (async () => {
        if (req.method === "POST") {
          req.resume();
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
          return;
        }
        const upstream = await fetch(`${this.honest}${req.url}`);
        const headers: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (k.startsWith("x-srp-") || k === "content-type") headers[k] = v;
        });
        const honest = { status: upstream.status, headers, body: Buffer.from(await upstream.arrayBuffer()) };
        const lie = this.rewrite(req.url ?? "", honest);
        res.writeHead(lie.status, lie.headers).end(lie.body);
      })().catch(() => res.destroy());
    });
    const server = this.#server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
