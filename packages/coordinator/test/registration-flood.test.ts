import { join } from "node:path";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Keys are free: one machine can sign registrations for as many node and
 * stream identities as it likes. Each registration costs the coordinator a
 * signature check and a registry row, so one network gets a bounded rate.
 */
describe("attack: a flood of registrations from one network", () => {
  let coordinator: Coordinator;
  let t = Date.now();
  beforeAll(async () => {
    const dataDir = join(tempDir("registration-flood"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir, registrationBurst: 3, registrationsPerMinute: 2 },
      { store: new SqliteStore(dataDir), log: silentLogger, now: () => t },
    );
    await coordinator.start();
  });
  afterAll(() => coordinator?.stop());

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${coordinator.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
  };
  const nodeRegistration = () =>
    signNodeRegistration(newAccount(), {
      url: "http://127.0.0.1:9",
      region: "eu",
      capacityMbps: 100,
      ingest: false,
      streams: [],
      issuedAt: t,
    });
  const registered = async () =>
    ((await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as { nodes: unknown[] }).nodes.length;

  it("takes a burst, then 429 RATE_LIMITED with nothing stored; the rate refills with time; streams share it", async () => {
    for (let i = 0; i < 3; i++) expect((await post("/v1/nodes", await nodeRegistration())).status).toBe(201);
    const refused = await post("/v1/nodes", await nodeRegistration());
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe("RATE_LIMITED");
    // A malformed body is refused the same way: the limit comes before any parsing or signature check.
    expect((await post("/v1/nodes", { junk: true })).status).toBe(429);
    const stream = await post("/v1/streams", await signStreamRegistration(newAccount(), "flood", t));
    expect(stream.status).toBe(429);
    expect(await registered()).toBe(3);
    t += 30_000; // half a minute at 2 per minute: one more
    expect((await post("/v1/nodes", await nodeRegistration())).status).toBe(201);
    expect((await post("/v1/nodes", await nodeRegistration())).status).toBe(429);
    expect(await registered()).toBe(4);
  });
});

describe("registrations through the coordinator's trusted proxy", () => {
  let coordinator: Coordinator;
  const t = Date.now();
  beforeAll(async () => {
    const dataDir = join(tempDir("registration-proxy"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir, registrationBurst: 3, registrationsPerMinute: 2, trustedProxies: ["127.0.0.1"] },
      { store: new SqliteStore(dataDir), log: silentLogger, now: () => t },
    );
    await coordinator.start();
  });
  afterAll(() => coordinator?.stop());

  const register = async (forwardedFor: string) => {
    const body = await signNodeRegistration(newAccount(), {
      url: "http://127.0.0.1:9",
      region: "eu",
      capacityMbps: 100,
      ingest: false,
      streams: [],
      issuedAt: t,
    });
    const res = await fetch(`${coordinator.url}/v1/nodes`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify(body),
    });
    return res.status;
  };

  it("limits each client network the proxy names, not the proxy as one network", async () => {
    // Five networks, one registration each: keyed on the proxy they were one bucket of 3.
    for (let i = 1; i <= 5; i++) expect(await register(`198.51.${i}.7`)).toBe(201);
    // One network still gets its burst of 3 and no more.
    for (let i = 0; i < 3; i++) expect(await register(`203.0.113.${i + 1}`)).toBe(201);
    expect(await register("203.0.113.99")).toBe(429);
  });
});
