import { ERROR_STATUS, type ErrorCode, parseWith, SrpError } from "@streamrp2p/protocol";
import type { z } from "zod";

export type FetchLike = typeof fetch;

export interface JsonRequest {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** ms before the request is abandoned with TIMEOUT. */
  timeoutMs?: number;
  /** Abandons the request early (UNAVAILABLE), e.g. when its caller leaves the server it asks. */
  signal?: AbortSignal;
}

function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/**
 * Calls a StreamrP2P JSON API and validates the answer with `schema`.
 * Error bodies come back as SrpError with the server's code and, in
 * `details.status`, the HTTP status; a request that got no answer at all
 * (refused, reset, timed out) has no status, so callers can tell an answer
 * from a missing server (coordinator failover does).
 */
export async function requestJson<S extends z.ZodType>(
  fetchImpl: FetchLike,
  url: string,
  schema: S,
  request: JsonRequest = {},
): Promise<z.output<S>> {
  const headers: Record<string, string> = { accept: "application/json", ...request.headers };
  if (request.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: request.method ?? (request.body === undefined ? "GET" : "POST"),
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      // AbortSignal.timeout takes a whole, non-negative number of ms and throws a RangeError otherwise.
      signal: withTimeout(request.signal, Math.max(0, Math.ceil(request.timeoutMs ?? 5_000))),
      // Never followed: a server must not send our requests to another address (SSRF).
      redirect: "manual",
    });
  } catch (cause) {
    const timedOut = cause instanceof Error && cause.name === "TimeoutError";
    throw new SrpError(
      timedOut ? "TIMEOUT" : "UNAVAILABLE",
      `${url}: ${timedOut ? "timed out" : "unreachable"}`,
      {
        cause,
      },
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch (cause) {
    throw new SrpError("UPSTREAM_FAILED", `${url}: answered ${res.status} with non-JSON`, {
      cause,
      details: { status: res.status },
    });
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const code = (error?.code && error.code in ERROR_STATUS ? error.code : "UPSTREAM_FAILED") as ErrorCode;
    throw new SrpError(code, error?.message ?? `${url}: HTTP ${res.status}`, {
      details: { status: res.status },
    });
  }
  return parseWith(schema, json, url);
}
