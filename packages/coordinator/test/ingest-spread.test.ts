import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Streams that start together (a scheduled event, a coordinator restart) must not all pick
 * the same two ingest relays: before any heartbeat shows their egress, every relay reports
 * none, and ranking by reported load alone sends every stream to the same least-loaded pair.
 */
describe("ingest choice under a burst of stream registrations", () => {
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  const dataDir = join(tempDir("coordinator-ingest-spread"), "db");
  const capacities = [100, 100, 200, 200, 400, 400, 800, 800]; // Mbit/s
  const nodeIds: string[] = [];

  beforeAll(async () => {
    coordinator = createCoordinator(
      // 108 registrations from 127.0.0.1 at once: the per-site limit raised, as an operator would.
      { port: 0, dataDir, ingestPerStream: 2, registrationBurst: 200 },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
    for (const [i, capacityMbps] of capacities.entries()) {
      const account = newAccount();
      const reg = await signNodeRegistration(account, {
        url: `http://127.0.0.1:${10_001 + i}`,
        region: "local",
        capacityMbps,
        ingest: true,
        streams: [],
        issuedAt: Date.now(),
      });
      const { token } = await client.registerNode(reg);
      const nodeId = account.address.toLowerCase() as `0x${string}`;
      // Heard from, serving nothing yet: every relay reports the same (zero) load.
      await client.heartbeat(token, { nodeId, connections: 0, egressBps: 0, bytesServed: 0, streams: [] });
      nodeIds.push(nodeId);
    }
  });
  afterAll(() => coordinator.stop());

  it("100 streams registered in the same second spread over the ingest relays by capacity", async () => {
    const streams = 100;
    const infos = await Promise.all(
      Array.from({ length: streams }, async (_, i) =>
        client.registerStream(await signStreamRegistration(newAccount(), `burst-${i}`, Date.now())),
      ),
    );
    // The stored choice (what origins read), not only the registration replies.
    const stored = await Promise.all(infos.map((s) => client.getStream(s.streamId)));
    const count = new Map<string, number>();
    for (const s of stored) {
      expect(s.ingest).toHaveLength(2);
      for (const r of s.ingest)
        count.set(r.nodeId.toLowerCase(), (count.get(r.nodeId.toLowerCase()) ?? 0) + 1);
    }
    const total = capacities.reduce((a, b) => a + b, 0);
    for (const [i, id] of nodeIds.entries()) {
      const fair = ((capacities[i] as number) / total) * streams * 2;
      const got = count.get(id) ?? 0;
      // Every relay takes its share by capacity, within a stream or two (ties, rounding).
      expect(
        Math.abs(got - fair),
        `relay ${i} (${capacities[i]} Mbit/s): ${got} streams, fair ${fair}`,
      ).toBeLessThanOrEqual(Math.max(2, fair * 0.1));
    }
  });
});
