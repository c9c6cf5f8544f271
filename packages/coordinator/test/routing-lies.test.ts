import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Issue 10, finding 5: routing believed what nodes reported. A node that
 * claims a live edge the stream never produced gets no viewers and no child
 * relays: reported edges are checked against the segment ledger, which only
 * holds what the origin signed.
 */
describe("attack: a node lies about its live edge to attract viewers and children", () => {
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  let ingestRelay: Relay;
  const streamer = newAccount();

  async function node(url: string, ingest: boolean) {
    const account = newAccount();
    const reg = await signNodeRegistration(account, {
      url,
      region: "local",
      capacityMbps: 100_000, // claims the world: capacity is not what wins here
      ingest,
      streams: [],
      issuedAt: Date.now(),
    });
    const { token } = await client.registerNode(reg);
    const beat = (edge: number) =>
      client.heartbeat(token, {
        nodeId: account.address.toLowerCase() as `0x${string}`,
        connections: 0,
        egressBps: 0,
        bytesServed: 0,
        streams: [{ streamId: "show", upstream: null, liveEdgeSeq: edge, viewers: 0 }],
      });
    return { id: account.address.toLowerCase(), token, beat };
  }

  beforeAll(async () => {
    const dataDir = join(tempDir("routing-lies"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir, probeIntervalMs: 0, recordIntervalMs: 3_600_000 },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    ingestRelay = await startStaticRelay({ show: streamer.address });
    await putObject(ingestRelay.url, "show", await signedObject(streamer, "show", "init", 0, 100));
    for (let seq = 0; seq <= 5; seq++)
      await putObject(ingestRelay.url, "show", await signedObject(streamer, "show", "segment", seq, 1000));
  });
  afterAll(async () => {
    await coordinator?.stop();
    await ingestRelay?.stop();
  });

  it("a claimed edge far past the ledger's is not believed; an honest one is", async () => {
    const ingest = await node(ingestRelay.url, true);
    await ingest.beat(5);
    expect((await client.getStream("show")).ingest.map((n) => n.nodeId)).toEqual([ingest.id]);
    expect(await coordinator.accounting.recordSegments()).toBe(6); // the ledger now ends at seq 5
    const honest = await node("http://127.0.0.1:9", false);
    const liar = await node("http://127.0.0.1:10", false);
    // Both joined the tree under the ingest relay, as relays do.
    for (const n of [honest, liar]) await client.assignUpstream(n.token, "show", n.id);
    await honest.beat(5);
    await liar.beat(1_000_000);
    const ranked = (await client.rankedNodes("show")).nodes.map((n) => n.nodeId);
    expect(ranked).toContain(honest.id);
    expect(ranked).not.toContain(liar.id);
    // A relay looking for an upstream other than the ingest relay gets the honest node, never the liar.
    const child = await node("http://127.0.0.1:11", false);
    await child.beat(-1);
    const a = await client.assignUpstream(child.token, "show", child.id, [ingest.id]);
    expect(a.upstream.nodeId).toBe(honest.id);
    const again = await client
      .assignUpstream(child.token, "show", child.id, [ingest.id, honest.id])
      .catch((e: { code?: string }) => e.code);
    expect(again).toBe("NO_UPSTREAM");
  });
});
