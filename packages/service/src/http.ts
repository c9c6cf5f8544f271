import type { IncomingMessage, ServerResponse } from "node:http";
import { SrpError } from "@streamrp2p/protocol";
import type { Logger } from "./logger.ts";

export type Params = Record<string, string>;

const CORS_PREFLIGHT = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, POST, PUT, OPTIONS",
  "access-control-allow-headers": "content-type, authorization",
  "access-control-max-age": "600", // s
};
export type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** A small method + path router: `/v1/streams/:id` style patterns, errors mapped to JSON bodies. */
export class Router {
  readonly #routes: Route[] = [];
  #fallback: Handler | undefined;

  constructor(private readonly log: Logger) {}

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const source = path.replace(/:([a-zA-Z]+)/g, (_m, key: string) => {
      keys.push(key);
      return "([^/]+)";
    });
    this.#routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  /**
   * What a request no route takes (no path, or not its method) goes to,
   * instead of the 404/400 (a relay worker passes it to its primary).
   */
  otherwise(handler: Handler): this {
    this.#fallback = handler;
    return this;
  }

  /**
   * The request listener for node:http. Everything a client controls (the
   * request target, percent-encoding in path parameters) is parsed inside the
   * try: a malformed request is a 400, never an exception that escapes the
   * listener and kills the process.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === "OPTIONS") {
      // CORS preflight: players on another origin post receipts and read our headers.
      res.writeHead(204, CORS_PREFLIGHT);
      res.end();
      return;
    }
    let result: unknown;
    try {
      result = this.#dispatch(req, res);
    } catch (err) {
      this.fail(res, err, req);
      return;
    }
    if (result instanceof Promise) result.catch((err: unknown) => this.fail(res, err, req));
  };

  /** Finds the route and calls its handler; returns what the handler returned. */
  #dispatch(req: IncomingMessage, res: ServerResponse): unknown {
    const url = parseRequestTarget(req.url);
    let pathMatched = false;
    for (const route of this.#routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== req.method && !(route.method === "GET" && req.method === "HEAD")) continue;
      const params: Params = {};
      route.keys.forEach((k, i) => {
        params[k] = decodePathParam(k, m[i + 1] ?? "");
      });
      return route.handler(req, res, params, url);
    }
    if (this.#fallback) return this.#fallback(req, res, {}, url);
    throw pathMatched
      ? new SrpError("BAD_REQUEST", `method ${req.method} not allowed on ${url.pathname}`)
      : new SrpError("NOT_FOUND", `no route for ${url.pathname}`);
  }

  private fail(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    if (!(err instanceof SrpError)) {
      this.log.error("request failed", { method: req.method, url: req.url, err });
    }
    sendError(res, err);
  }
}

/** The request target as a URL; BAD_REQUEST for one WHATWG URL parsing refuses (e.g. `http://[`). */
export function parseRequestTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? "/", "http://local");
  } catch (cause) {
    throw new SrpError("BAD_REQUEST", "malformed request target", { cause });
  }
}

/** One percent-decoded path parameter; BAD_REQUEST for malformed encoding (`%ff`, a lone `%`). */
export function decodePathParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (cause) {
    throw new SrpError("BAD_REQUEST", `path parameter ${name} is not valid percent-encoded UTF-8`, { cause });
  }
}

/** Writes `{ error: { code, message } }` with the code's status; unknown errors become INTERNAL. */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof SrpError ? err : new SrpError("INTERNAL", "internal error", { cause: err });
  if (res.headersSent) {
    // A body is half sent: the only honest signal left is to cut the connection.
    res.destroy(e);
    return;
  }
  const body = JSON.stringify(e.toJSON());
  res.writeHead(e.status, {
    "access-control-allow-origin": "*",
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "access-control-allow-origin": "*",
    "content-type": "application/json",

    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(body);
}

/** Reads a whole body, refusing (413) before buffering more than `limitBytes`. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new SrpError("PAYLOAD_TOO_LARGE", `body of ${declared} bytes exceeds the ${limitBytes}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limitBytes) {
      req.resume();
      throw new SrpError("PAYLOAD_TOO_LARGE", `body exceeds the ${limitBytes}-byte limit`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Reads and parses a JSON body (content-type application/json), size-limited. */
export async function readJson(req: IncomingMessage, limitBytes = 64 * 1024): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/json")) {
    req.resume();
    throw new SrpError("UNSUPPORTED_MEDIA_TYPE", "expected content-type application/json");
  }
  const body = await readBody(req, limitBytes);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (cause) {
    throw new SrpError("BAD_REQUEST", "body is not valid JSON", { cause });
  }
}
