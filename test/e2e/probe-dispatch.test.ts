import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { generateEd25519, signProbeTask, signStreamRegistration } from "@streamrp2p/protocol";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject } from "../support/fixtures.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 10, finding 6: probes came from the coordinator's own address, so a
 * node could serve probes well and viewers badly. Now the coordinator sends a
 * probe through another relay with a task signed by its ticket key; that
 * relay runs only such tasks (it is no open proxy).
 */
describe("probes dispatched through other relays", () => {
  const streamer = newAccount();
  let coordinator: Coordinator;
  let target: Relay;
  let via: Relay;
  let ticketKey: Awaited<ReturnType<typeof generateEd25519>>;
  const coordinatorFetches: string[] = [];
  const viaFetches: string[] = [];

  const recording =
    (log: string[]): typeof fetch =>
    (input, init) => {
      log.push(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      return fetch(input, init);
    };

  beforeAll(async () => {
    const dir = join(tempDir("probe-dispatch"), "db");
    ticketKey = await generateEd25519();
    coordinator = createCoordinator(
      { port: 0, dataDir: dir, probeIntervalMs: 0, recordIntervalMs: 0, heartbeatIntervalMs: 300 },
      { store: new SqliteStore(dir), log: silentLogger, fetch: recording(coordinatorFetches), ticketKey },
    );
    await coordinator.start();
    const client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    const start = async (log?: string[]) => {
      const r = createRelay(
        { port: 0, ingest: true, heartbeatIntervalMs: 300 },
        {
          account: newAccount(),
          log: silentLogger,
          coordinator: client,
          ...(log ? { fetch: recording(log) } : {}),
        },
      );
      await r.start();
      return r;
    };
    target = await start();
    via = await start(viaFetches);
    await putObject(target.url, "show", await signedObject(streamer, "show", "init", 0, 500));
    for (let seq = 0; seq < 4; seq++)
      await putObject(target.url, "show", await signedObject(streamer, "show", "segment", seq, 20_000));
    await waitUntil(
      "both relays healthy at the coordinator",
      async () => {
        const { nodes } = (await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as {
          nodes: Array<{ healthy: boolean }>;
        };
        return nodes.filter((n) => n.healthy).length === 2 || undefined;
      },
      10_000,
    );
  });
  afterAll(async () => {
    await target?.stop();
    await via?.stop();
    await coordinator?.stop();
  });

  it("the probed node is asked by another relay, never by the coordinator, and the probe still measures it", async () => {
    coordinatorFetches.length = 0;
    const row = await coordinator.accounting.probe(target.nodeId, target.url, "show");
    expect(row.ok, row.error ?? "").toBe(true);
    expect(coordinatorFetches.filter((u) => u.startsWith(target.url))).toEqual([]);
    expect(coordinatorFetches.filter((u) => u === `${via.url}/v1/probe`).length).toBeGreaterThanOrEqual(3);
    expect(viaFetches.some((u) => u.startsWith(`${target.url}/live/show/index.m3u8?session=`))).toBe(true);
    expect(viaFetches.some((u) => u.startsWith(`${target.url}/live/show/seg-`))).toBe(true);
    // Like a viewer, the probe left its signed receipt with the node (through the relay too).
    expect(target.receipts.list("show", 10).length).toBe(1);
  });

  it("a relay runs no task the coordinator did not sign, none twice, and none stale: it is no open proxy", async () => {
    const task = {
      url: `${target.url}/live/show/index.m3u8`,
      method: "GET" as const,
      headers: {},
      nonce: "ab".repeat(16),
      issuedAt: Date.now(),
    };
    const post = (body: unknown) =>
      fetch(`${via.url}/v1/probe`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const attacker = await generateEd25519();
    viaFetches.length = 0;
    const forged = await post(await signProbeTask(attacker.privateKey, task));
    expect(forged.status).toBe(403);
    const unsigned = await post({ ...task, signature: "x" });
    expect(unsigned.status).toBe(403);
    const internal = await post(
      await signProbeTask(attacker.privateKey, { ...task, url: "http://127.0.0.1:1/admin" }),
    );
    expect(internal.status).toBe(403);
    expect(viaFetches).toEqual([]); // nothing was fetched for any of them
    // A task the coordinator signed runs once; its replay and a stale one do not.
    const good = await signProbeTask(ticketKey.privateKey, { ...task, nonce: "cd".repeat(16) });
    const first = await post(good);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-srp-probe-status")).toBe("200");
    expect(await first.text()).toContain("#EXTM3U");
    const replay = await post(good);
    expect(replay.status).toBe(409);
    const stale = await post(
      await signProbeTask(ticketKey.privateKey, {
        ...task,
        nonce: "ef".repeat(16),
        issuedAt: Date.now() - 60_000,
      }),
    );
    expect(stale.status).toBe(401);
    expect(viaFetches).toHaveLength(1);
  });
});
