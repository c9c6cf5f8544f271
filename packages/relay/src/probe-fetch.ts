import type { IncomingMessage, ServerResponse } from "node:http";
import {
  HEADER_PROBE_HEADERS,
  HEADER_PROBE_STATUS,
  PROBE_TASK_FETCH_TIMEOUT_MS,
  type ProbeTask,
  ProbeTaskSchema,
  parseWith,
  SrpError,
  verifyProbeTask,
} from "@streamrp2p/protocol";
import { type FetchLike, isAddressNotAllowed, readBodyCapped, readJson } from "@streamrp2p/service";

/** Nonces remembered at most; a task arriving when full is refused, never a replay let through. */
const MAX_NONCES = 10_000;
/** The upstream's relevant headers passed on, as JSON: well under any HTTP client's header limit. */
const MAX_PROBE_HEADERS_CHARS = 8 * 1024;
/** More than any segment (pushes over 16 MiB are refused): the relay never buffers more for a probe. */
const MAX_PROBE_BODY_BYTES = 16 * 1024 * 1024;

/** Nonces of probe tasks already run, until their tasks expire. Bounded. */
export class NonceWindow {
  readonly #until = new Map<string, number>();
  constructor(private readonly now: () => number) {}

  has(nonce: string): boolean {
    const until = this.#until.get(nonce);
    return until !== undefined && until >= this.now();
  }

  add(nonce: string, until: number): void {
    if (this.#until.size >= MAX_NONCES) {
      const t = this.now();
      for (const [n, u] of this.#until) if (u <= t) this.#until.delete(n);
      if (this.#until.size >= MAX_NONCES) throw new SrpError("RATE_LIMITED", "too many probe tasks at once");
    }
    this.#until.set(nonce, until);
  }
}

export interface ProbeFetchContext {
  /** This relay's node id: tasks addressed to another relay are refused. */
  nodeId: string;
  ticketPublicKey: () => Promise<string>;
  nonces: NonceWindow;
  fetch: FetchLike;
  now: () => number;
}

/**
 * POST /v1/probe — the coordinator's signed request that this relay fetch a
 * URL (another node's playlist, init, segment, or receipt POST) as a viewer
 * would, so the probed node cannot tell the probe by its source address.
 * Answers with the upstream's body; its status and relevant headers in
 * x-srp-probe-status / x-srp-probe-headers. Redirects are not followed.
 */
export async function handleProbeFetch(ctx: ProbeFetchContext, req: IncomingMessage, res: ServerResponse) {
  const task = parseWith(ProbeTaskSchema, await readJson(req, 80 * 1024), "probe task");
  await verifyProbeTask(task, await ctx.ticketPublicKey(), ctx.nodeId, ctx.now(), ctx.nonces);
  const answer = await fetchUpstream(ctx, task);
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": answer.body.length,
    "cache-control": "no-store",
    [HEADER_PROBE_STATUS]: String(answer.status),
    [HEADER_PROBE_HEADERS]: answer.headers,
  });
  res.end(answer.body);
}

/**
 * Everything that touches the probed node, where every failure is its fault
 * and answered UPSTREAM_FAILED: a node that breaks its answer on purpose (a
 * short body, a body past the timeout, an impossible status, headers too big
 * to pass on) must not make this relay look at fault to the coordinator.
 */
async function fetchUpstream(ctx: ProbeFetchContext, task: ProbeTask) {
  try {
    const upstream = await ctx.fetch(task.url, {
      method: task.method,
      headers: task.headers,
      body: task.body,
      redirect: "manual",
      signal: AbortSignal.timeout(PROBE_TASK_FETCH_TIMEOUT_MS),
    });
    const body = await readBodyCapped(upstream, MAX_PROBE_BODY_BYTES, `probe of ${task.url}`);
    const relevant: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k.startsWith("x-srp-") || k === "content-type" || k === "cache-control") relevant[k] = v;
    });
    const headers = JSON.stringify(relevant);
    if (headers.length > MAX_PROBE_HEADERS_CHARS) throw new Error(`headers of ${headers.length} characters`);
    if (upstream.status < 200 || upstream.status > 599) throw new Error(`status ${upstream.status}`);
    return { status: upstream.status, headers, body };
  } catch (cause) {
    if (isAddressNotAllowed(cause))
      throw new SrpError("UPSTREAM_FAILED", `probe of ${task.url} refused: not a public address`, { cause });
    throw new SrpError("UPSTREAM_FAILED", `probe of ${task.url} failed: ${String(cause)}`.slice(0, 300), {
      cause,
    });
  }
}
