import { randomBytes } from "node:crypto";
import { HEADER_PROBE_HEADERS, HEADER_PROBE_STATUS, type ProbeTask } from "@streamrp2p/protocol";

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * A fetch for the prober that goes through another relay (POST /v1/probe with
 * a task signed by the coordinator's ticket key): the probed node sees the
 * request come from that relay's address, not the coordinator's, so it cannot
 * serve probes better than viewers by recognising the prober. What the relay
 * answers is rebuilt as the probed node's response.
 */
export function fetchVia(
  viaUrl: string,
  sign: (task: Omit<ProbeTask, "signature">) => Promise<ProbeTask>,
  now: () => number,
  f: typeof fetch = fetch,
): typeof fetch {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method === "POST" ? "POST" : "GET";
    const task = await sign({
      url,
      method,
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      ...(typeof init?.body === "string" ? { body: init.body } : {}),
      nonce: randomBytes(16).toString("hex"),
      issuedAt: now(),
    });
    const res = await f(`${viaUrl}/v1/probe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(task),
      signal: init?.signal ?? null,
      redirect: "manual",
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new TypeError(`probe through ${viaUrl} failed: HTTP ${res.status}`);
    }
    const status = Number(res.headers.get(HEADER_PROBE_STATUS));
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      await res.body?.cancel();
      throw new TypeError(`probe through ${viaUrl}: no upstream status`);
    }
    const headers = JSON.parse(res.headers.get(HEADER_PROBE_HEADERS) ?? "{}") as Record<string, string>;
    if (NULL_BODY.has(status)) {
      await res.body?.cancel();
      return new Response(null, { status, headers });
    }
    return new Response(res.body, { status, headers });
  };
}
