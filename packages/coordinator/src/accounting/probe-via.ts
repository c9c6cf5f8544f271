import { randomBytes } from "node:crypto";
import {
  HEADER_PROBE_HEADERS,
  HEADER_PROBE_STATUS,
  PROBE_TASK_FETCH_TIMEOUT_MS,
  type ProbeTask,
  ProbeTaskSchema,
} from "@streamrp2p/protocol";

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);
/** How long past its own fetch timeout a go-between may take to answer (ms) before it is at fault. */
const VIA_ANSWER_SLACK_MS = 2_000;

/** A relay a probe goes through. */
export interface ProbeVia {
  nodeId: string;
  url: string;
}

/**
 * A fetch for the prober that goes through another relay (POST /v1/probe with
 * a task signed by the coordinator's ticket key and addressed to that relay):
 * the probed node sees the request come from that relay's address, not the
 * coordinator's, so it cannot serve probes better than viewers by recognising
 * the prober. What the relay answers is rebuilt as the probed node's response.
 *
 * `onViaFault` hears of failures that are the go-between's own — no answer in
 * time, a refusal, a malformed answer — as opposed to its report that the
 * probed node failed (UPSTREAM_FAILED), which it could make up and which
 * therefore needs a second witness before it counts (see AccountingService.probe).
 */
export function fetchVia(
  via: ProbeVia,
  sign: (task: Omit<ProbeTask, "signature">) => Promise<ProbeTask>,
  now: () => number,
  f: typeof fetch = fetch,
  onViaFault: (reason: string) => void = () => {},
): typeof fetch {
  const fault = (reason: string): never => {
    onViaFault(reason);
    throw new TypeError(`probe through ${via.url} failed: ${reason}`);
  };
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method === "POST" ? "POST" : "GET";
    const unsigned: Omit<ProbeTask, "signature"> = {
      url,
      method,
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      ...(typeof init?.body === "string" ? { body: init.body } : {}),
      via: via.nodeId as `0x${string}`,
      nonce: randomBytes(16).toString("hex"),
      issuedAt: now(),
    };
    // A task no relay would take (a URL too long or malformed, from what the probed node
    // registered or listed) is the node's fault: never sent, so no go-between is blamed.
    if (!ProbeTaskSchema.safeParse({ ...unsigned, signature: "0".repeat(86) }).success)
      throw new TypeError(`probe of ${url.slice(0, 200)}: not a fetchable URL`);
    const task = await sign(unsigned);
    let res: Response;
    try {
      // Not the caller's signal: the go-between gives up on the probed node after
      // PROBE_TASK_FETCH_TIMEOUT_MS and must have answered shortly after that.
      res = await f(`${via.url}/v1/probe`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(task),
        signal: AbortSignal.timeout(PROBE_TASK_FETCH_TIMEOUT_MS + VIA_ANSWER_SLACK_MS),
        redirect: "manual",
      });
    } catch (err) {
      return fault(`no answer (${err instanceof Error ? err.message : String(err)})`);
    }
    if (res.status !== 200) {
      const code = await res
        .json()
        .then((b) => (b as { error?: { code?: unknown } }).error?.code)
        .catch(() => undefined);
      // The go-between says the probed node failed: a claim, not a fault of its own.
      if (code === "UPSTREAM_FAILED") throw new TypeError(`probe through ${via.url}: the node failed`);
      return fault(`HTTP ${res.status}${typeof code === "string" ? ` ${code}` : ""}`);
    }
    const status = Number(res.headers.get(HEADER_PROBE_STATUS));
    let headers: Record<string, string> | undefined;
    try {
      const parsed: unknown = JSON.parse(res.headers.get(HEADER_PROBE_HEADERS) ?? "{}");
      if (parsed && typeof parsed === "object" && Object.values(parsed).every((v) => typeof v === "string"))
        headers = parsed as Record<string, string>;
    } catch {}
    if (!Number.isInteger(status) || status < 200 || status > 599 || !headers) {
      await res.body?.cancel();
      return fault("malformed answer (no upstream status or headers)");
    }
    if (NULL_BODY.has(status)) {
      await res.body?.cancel();
      return new Response(null, { status, headers });
    }
    return new Response(res.body, { status, headers });
  };
}
