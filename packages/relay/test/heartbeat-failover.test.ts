import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { HeartbeatLoop } from "../src/heartbeat.ts";

const started: Array<{ stop(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop();
});

async function coordinator(): Promise<Coordinator> {
  const c = createCoordinator(
    { port: 0, dataDir: ":memory:" },
    { store: new SqliteStore(":memory:"), log: silentLogger },
  );
  await c.start();
  started.push(c);
  return c;
}

function loop(client: CoordinatorClient) {
  const account = newAccount();
  const nodeId = account.address.toLowerCase() as `0x${string}`;
  const l = new HeartbeatLoop({
    client,
    account,
    log: silentLogger,
    intervalMs: 60_000, // beats are driven by the test (beatNow)
    registration: () => ({
      url: "http://127.0.0.1:9",
      region: "eu",
      capacityMbps: 100,
      ingest: false,
      streams: [],
    }),
    snapshot: () => ({ nodeId, connections: 0, egressBps: 0, bytesServed: 0, streams: [], draining: false }),
    onCarry: () => {},
  });
  started.push(l);
  return { l, nodeId };
}

describe("heartbeats across coordinator replicas", () => {
  it("a replica that does not know the node's token gets a registration and the beat in the same tick", async () => {
    // Two coordinators with separate databases: the second has never heard of the node.
    const a = await coordinator();
    const b = await coordinator();
    const client = new CoordinatorClient({ baseUrls: [a.url, b.url] });
    const { l, nodeId } = loop(client);
    await l.start();
    const tokenFromA = l.token;
    expect(tokenFromA).toBeDefined();
    expect((await new CoordinatorClient({ baseUrl: a.url }).nodeStatus(nodeId)).healthy).toBe(true);

    await a.stop();
    await l.beatNow(); // A refuses the connection; B answers NODE_NOT_FOUND; the loop registers with B and beats
    expect(l.token).toBeDefined();
    expect(l.token).not.toBe(tokenFromA);
    expect(client.baseUrl).toBe(b.url);
    const status = await new CoordinatorClient({ baseUrl: b.url }).nodeStatus(nodeId);
    expect(status.healthy).toBe(true);
  });

  it("a registration one replica took without answering, replayed on the next, is signed afresh instead of failing", async () => {
    const c = await coordinator();
    // The same coordinator under two names: the first "replica" acts on the
    // registration, then its answer is lost (as when it freezes after the write).
    const first = "http://replica-a.test";
    let lost = 0;
    const f = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      const res = await fetch(url.replace(first, c.url), init);
      if (url.startsWith(first) && url.endsWith("/v1/nodes") && lost === 0) {
        lost += 1;
        await res.body?.cancel();
        throw new TypeError("fetch failed", { cause: new Error("ECONNRESET") });
      }
      return res;
    }) as typeof fetch;
    const client = new CoordinatorClient({ baseUrls: [first, c.url], fetch: f });
    const { l, nodeId } = loop(client);
    await l.start();
    expect(lost).toBe(1);
    // The second replica refused the replay (CONFLICT); the loop signed a newer one and beat with its token.
    expect(l.token).toBeDefined();
    expect((await new CoordinatorClient({ baseUrl: c.url }).nodeStatus(nodeId)).healthy).toBe(true);
  });
});
