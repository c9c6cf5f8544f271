import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Issue 10, finding 9: a registration signed only (nodeId, url, issuedAt), so
 * anyone who saw one could replay it within the skew window (rotating the
 * node's token: the node is cut off) or change what it offers.
 */
describe("attack: replayed and altered node registrations", () => {
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  beforeAll(async () => {
    const dataDir = join(tempDir("registration"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
  });
  afterAll(() => coordinator?.stop());

  const post = async (body: unknown) => {
    const res = await fetch(`${coordinator.url}/v1/nodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { token?: string; error?: { code: string } } };
  };

  it("a replay is refused and the node keeps its token; any altered field breaks the signature", async () => {
    const node = newAccount();
    const reg = await signNodeRegistration(node, {
      url: "http://127.0.0.1:9",
      region: "eu",
      capacityMbps: 100,
      ingest: false,
      streams: ["show"],
      issuedAt: Date.now(),
    });
    const first = await post(reg);
    expect(first.status).toBe(201);
    const replay = await post(reg);
    expect(replay.status).toBe(409);
    expect(replay.body.error?.code).toBe("CONFLICT");
    // The node's token still works: the replay cut nobody off.
    const beat = await client.heartbeat(first.body.token ?? "", {
      nodeId: reg.nodeId,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [],
    });
    expect(beat.carry).toEqual([]);
    for (const altered of [
      { capacityMbps: 100_000 },
      { ingest: true },
      { region: "us" },
      { streams: [] },
      { url: "http://127.0.0.1:10" },
    ]) {
      const res = await post({ ...reg, ...altered, issuedAt: reg.issuedAt + 1 });
      expect(res.status, JSON.stringify(altered)).toBe(403);
      expect(res.body.error?.code).toBe("BAD_SIGNATURE");
    }
    const later = await signNodeRegistration(node, { ...reg, issuedAt: reg.issuedAt + 1_000 });
    expect((await post(later)).status).toBe(201); // the node itself may always re-register
  });
});
