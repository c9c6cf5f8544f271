import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Misbehaviour =
  | { kind: "cut"; afterBytes: number; pauseMs: number } // send some bytes, then drop the connection
  | { kind: "slow"; pauseMs: number } // send half, pause, send the rest
  | { kind: "tamper"; pauseMs?: number } // flip one byte in the second half (sent after pauseMs)
  | { kind: "none" };

/**
 * A real HTTP server in front of a real relay that misbehaves on chosen
 * segments, the way a dying or dishonest upstream would.
 */
export class FlakyProxy {
  readonly requests = new Map<string, number>();
  /** When the second half of a slow segment was written (ms since epoch). */
  readonly secondHalfAt = new Map<string, number>();
  readonly #rules = new Map<string, Misbehaviour>();
  #server: Server | undefined;
  url = "";

  constructor(private readonly target: string) {}

  misbehave(file: string, m: Misbehaviour): void {
    this.#rules.set(file, m);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy()); // the target went away (test teardown)
    });
    this.#server = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    {
      const path = req.url ?? "/";
      const file = path.split("?")[0]?.split("/").pop() ?? "";
      this.requests.set(file, (this.requests.get(file) ?? 0) + 1);
      const upstream = await fetch(`${this.target}${path}`);
      const body = Buffer.from(await upstream.arrayBuffer());
      const headers: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== "transfer-encoding" && k !== "connection" && k !== "keep-alive") headers[k] = v;
      });
      const rule = this.#rules.get(file) ?? { kind: "none" };
      res.writeHead(upstream.status, headers);
      switch (rule.kind) {
        case "none":
          res.end(body);
          return;
        case "tamper": {
          const copy = Buffer.from(body);
          const at = (copy.length >> 1) + 1;
          copy[at] = (copy[at] ?? 0) ^ 0xff;
          if (!rule.pauseMs) {
            res.end(copy);
            return;
          }
          res.write(copy.subarray(0, copy.length >> 1));
          setTimeout(() => res.end(copy.subarray(copy.length >> 1)), rule.pauseMs);
          return;
        }
        case "cut":
          res.write(body.subarray(0, rule.afterBytes));
          setTimeout(() => res.destroy(), rule.pauseMs);
          return;
        case "slow":
          res.write(body.subarray(0, body.length >> 1));
          setTimeout(() => {
            this.secondHalfAt.set(file, Date.now());
            res.end(body.subarray(body.length >> 1));
          }, rule.pauseMs);
          return;
      }
    }
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
