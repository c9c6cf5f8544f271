import { SrpError } from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";
import {
  CoordinatorClient,
  CoordinatorEndpoints,
  coordinatorUrlList,
  isReplicaFailure,
} from "../src/index.ts";

const A = "http://a.test:7700";
const B = "http://b.test:7700";
const C = "http://c.test:7700";

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const INFO = {
  ticketPublicKey: "k",
  domain: { chainId: 0, verifyingContract: `0x${"0".repeat(40)}` },
};

type Behaviour = "refuse" | "hang" | number | { status: number; body: unknown };

/** A fetch that answers per replica as told, and records which URLs were asked. */
function scriptedFetch(behaviour: Record<string, Behaviour>) {
  const asked: string[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    asked.push(url);
    const base = Object.keys(behaviour).find((b) => url.startsWith(b));
    const b = base === undefined ? "refuse" : behaviour[base];
    if (b === "refuse") throw new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") });
    if (b === "hang")
      return new Promise<Response>((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      );
    const { status, body } =
      typeof b === "object"
        ? b
        : { status: b, body: b === 200 ? INFO : { error: { code: "X", message: "x" } } };
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  return { fetch: f, asked };
}

describe("CoordinatorEndpoints", () => {
  it("parses a comma-separated list or a list: trimmed, no trailing slash, no duplicates, never empty", () => {
    expect(coordinatorUrlList(` ${A}/ , ${B},${A}`)).toEqual([A, B]);
    expect(coordinatorUrlList([A, `${B}/`])).toEqual([A, B]);
    expect(() => coordinatorUrlList(" , ")).toThrow(SrpError);
    expect(() => new CoordinatorEndpoints([])).toThrow(/no coordinator URL/);
  });

  it("tries the configured order, then the one that answered last first", () => {
    const e = new CoordinatorEndpoints([A, B, C]);
    expect(e.order()).toEqual([A, B, C]);
    e.succeeded(C);
    expect(e.order()).toEqual([C, A, B]);
    expect(e.preferred).toBe(C);
  });

  it("puts a failed replica last until its backoff is over, then back in its place", () => {
    const t = clock();
    const e = new CoordinatorEndpoints([A, B, C], { now: t.now, backoffMs: 1_000, maxBackoffMs: 8_000 });
    e.failed(A);
    expect(e.order()).toEqual([B, C, A]);
    expect(e.backoffLeft(A)).toBe(1_000);
    t.advance(999);
    expect(e.order()).toEqual([B, C, A]);
    t.advance(1);
    expect(e.order()).toEqual([A, B, C]);
  });

  it("doubles the backoff with each failure up to the cap, and forgets it on success", () => {
    const t = clock();
    const e = new CoordinatorEndpoints([A, B], { now: t.now, backoffMs: 1_000, maxBackoffMs: 5_000 });
    const lefts = [1, 2, 3, 4, 5].map(() => {
      e.failed(A);
      return e.backoffLeft(A);
    });
    expect(lefts).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    e.succeeded(A);
    expect(e.backoffLeft(A)).toBe(0);
    e.failed(A);
    expect(e.backoffLeft(A)).toBe(1_000);
  });

  it("still tries replicas that are backing off, last, soonest retry first", () => {
    const t = clock();
    const e = new CoordinatorEndpoints([A, B, C], { now: t.now, backoffMs: 1_000 });
    e.failed(B);
    e.failed(B); // 2 s
    e.failed(A); // 1 s
    expect(e.order()).toEqual([C, A, B]);
    e.failed(C); // 1 s, but after A's
    expect(e.order()).toEqual([A, C, B]);
  });
});

describe("isReplicaFailure", () => {
  it("no answer, 502, 503 and 504 are a replica failing; 4xx, 500 and NO_UPSTREAM are answers", () => {
    const err = (code: ConstructorParameters<typeof SrpError>[0], status?: number) =>
      new SrpError(code, "x", status === undefined ? {} : { details: { status } });
    expect(isReplicaFailure(err("UNAVAILABLE"))).toBe(true);
    expect(isReplicaFailure(err("TIMEOUT"))).toBe(true);
    expect(isReplicaFailure(err("UPSTREAM_FAILED", 502))).toBe(true);
    expect(isReplicaFailure(err("UNAVAILABLE", 503))).toBe(true);
    expect(isReplicaFailure(err("TIMEOUT", 504))).toBe(true);
    expect(isReplicaFailure(err("NO_UPSTREAM", 503))).toBe(false);
    expect(isReplicaFailure(err("UNAUTHORIZED", 401))).toBe(false);
    expect(isReplicaFailure(err("STREAM_NOT_FOUND", 404))).toBe(false);
    expect(isReplicaFailure(err("RATE_LIMITED", 429))).toBe(false);
    expect(isReplicaFailure(err("INTERNAL", 500))).toBe(false);
    expect(isReplicaFailure(err("VALIDATION_FAILED"))).toBe(false); // a schema-check failure of an answer
    expect(isReplicaFailure(new Error("x"))).toBe(false);
  });
});

describe("CoordinatorClient failover", () => {
  it("still takes one URL", async () => {
    const s = scriptedFetch({ [A]: 200 });
    const client = new CoordinatorClient({ baseUrl: `${A}/`, fetch: s.fetch });
    expect(client.baseUrls).toEqual([A]);
    await expect(client.info()).resolves.toMatchObject({ ticketPublicKey: "k" });
    expect(s.asked).toEqual([`${A}/v1/info`]);
  });

  it.each([
    ["refused", "refuse" as const],
    ["502", 502],
    ["503", 503],
    ["504", 504],
  ])("moves to the next replica when one is %s, and keeps going there", async (_name, down) => {
    const t = clock();
    const s = scriptedFetch({ [A]: down, [B]: 200 });
    const client = new CoordinatorClient({ baseUrls: [A, B], fetch: s.fetch, now: t.now, backoffMs: 5_000 });
    await client.info();
    await client.info();
    expect(s.asked).toEqual([`${A}/v1/info`, `${B}/v1/info`, `${B}/v1/info`]);
    expect(client.baseUrl).toBe(B);
  });

  it("gives a frozen replica one attempt timeout, then backs off from it", async () => {
    const t = clock();
    const s = scriptedFetch({ [A]: "hang", [B]: 200 });
    const failovers: string[] = [];
    const client = new CoordinatorClient({
      baseUrls: `${A},${B}`,
      fetch: s.fetch,
      timeoutMs: 50,
      now: t.now,
      onFailover: (url) => failovers.push(url),
    });
    await client.info();
    await client.info();
    expect(s.asked).toEqual([`${A}/v1/info`, `${B}/v1/info`, `${B}/v1/info`]);
    expect(failovers).toEqual([A]);
  });

  it("never retries an answer elsewhere: 4xx and NO_UPSTREAM come back from the first replica", async () => {
    const notFound = { status: 404, body: { error: { code: "STREAM_NOT_FOUND", message: "no" } } };
    const noUpstream = { status: 503, body: { error: { code: "NO_UPSTREAM", message: "none" } } };
    for (const answer of [notFound, noUpstream]) {
      const s = scriptedFetch({ [A]: answer, [B]: 200 });
      const client = new CoordinatorClient({ baseUrls: [A, B], fetch: s.fetch });
      await expect(client.getStream("show")).rejects.toMatchObject({ code: answer.body.error.code });
      expect(s.asked).toEqual([`${A}/v1/streams/show`]);
      expect(client.endpoints.backoffLeft(A)).toBe(0);
    }
  });

  it("sends a POST's same body and headers to the next replica", async () => {
    const bodies: Array<{ url: string; body: unknown; auth: string | null }> = [];
    const f = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      bodies.push({
        url,
        body: JSON.parse(String(init?.body)),
        auth: new Headers(init?.headers).get("authorization"),
      });
      if (url.startsWith(A)) throw new TypeError("fetch failed");
      return new Response(JSON.stringify({ carry: [] }), { status: 200 });
    }) as typeof fetch;
    const client = new CoordinatorClient({ baseUrls: [A, B], fetch: f });
    const hb = {
      nodeId: `0x${"1".repeat(40)}`,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [],
    } as unknown as Parameters<CoordinatorClient["heartbeat"]>[1];
    await client.heartbeat("tok", hb);
    expect(bodies.map((b) => new URL(b.url).origin)).toEqual([A, B]);
    expect(bodies[1]?.body).toEqual(bodies[0]?.body);
    expect(bodies.map((b) => b.auth)).toEqual(["Bearer tok", "Bearer tok"]);
  });

  it("when every replica fails, throws the last failure; after the backoff the first is tried again", async () => {
    const t = clock();
    const behaviour: Record<string, Behaviour> = { [A]: "refuse", [B]: 503 };
    const s = scriptedFetch(behaviour);
    const client = new CoordinatorClient({ baseUrls: [A, B], fetch: s.fetch, now: t.now, backoffMs: 1_000 });
    await expect(client.info()).rejects.toMatchObject({ code: "UPSTREAM_FAILED", details: { status: 503 } });
    expect(s.asked.map((u) => new URL(u).origin)).toEqual([A, B]);
    // Both back off alike: the preferred one (A) leads the next call, which must not fail untried.
    s.asked.length = 0;
    behaviour[A] = 200;
    await client.info();
    expect(s.asked.map((u) => new URL(u).origin)).toEqual([A]);
    // B recovers but A answered last: A stays first. When A goes, B (backoff over) takes over.
    t.advance(5_000);
    behaviour[B] = 200;
    behaviour[A] = "refuse";
    s.asked.length = 0;
    await client.info();
    await client.info();
    expect(s.asked.map((u) => new URL(u).origin)).toEqual([A, B, B]);
  });
});
