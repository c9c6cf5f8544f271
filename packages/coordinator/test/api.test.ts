import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { SrpError, signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof SrpError ? err.code : String(err);
  }
}

describe("coordinator API over SQLite", () => {
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  const dataDir = join(tempDir("coordinator"), "db");
  const streamer = newAccount();

  beforeAll(async () => {
    coordinator = createCoordinator(
      { port: 0, dataDir },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
  });
  afterAll(() => coordinator.stop());

  async function registerNode(ingest: boolean, url: string, streams: string[]) {
    const account = newAccount();
    const reg = await signNodeRegistration(account, {
      url,
      region: "local",
      capacityMbps: 100,
      ingest,
      streams,
      issuedAt: Date.now(),
    });
    const { token } = await client.registerNode(reg);
    return { account, token };
  }

  it("registers a stream once per signing key", async () => {
    const info = await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    expect(info.signer).toBe(streamer.address.toLowerCase());
    expect((await client.getStream("show")).streamId).toBe("show");
    // Re-registering by the owner is fine; by anyone else it is a conflict.
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    expect(
      await codeOf(client.registerStream(await signStreamRegistration(newAccount(), "show", Date.now()))),
    ).toBe("CONFLICT");
  });

  it("refuses forged, stale and malformed registrations", async () => {
    const reg = await signStreamRegistration(streamer, "other", Date.now());
    expect(await codeOf(client.registerStream({ ...reg, signer: newAccount().address }))).toBe(
      "BAD_SIGNATURE",
    );
    expect(
      await codeOf(
        client.registerStream(await signStreamRegistration(streamer, "old", Date.now() - 3_600_000)),
      ),
    ).toBe("VALIDATION_FAILED");
    expect(await codeOf(client.registerStream({ ...reg, streamId: "Bad Id!" }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(client.getStream("nosuch"))).toBe("STREAM_NOT_FOUND");
  });

  it("rejects unknown fields, non-JSON and oversized bodies with clear errors", async () => {
    const reg = await signStreamRegistration(streamer, "x1", Date.now());
    const post = (body: string, type = "application/json") =>
      fetch(`${coordinator.url}/v1/streams`, { method: "POST", headers: { "content-type": type }, body });
    const cases: Array<[Response, number, string]> = [
      [await post(JSON.stringify({ ...reg, extra: true })), 400, "VALIDATION_FAILED"],
      [await post("{not json"), 400, "BAD_REQUEST"],
      [await post(JSON.stringify(reg), "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"],
      [await post(JSON.stringify({ pad: "x".repeat(100_000) })), 413, "PAYLOAD_TOO_LARGE"],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it("authenticates heartbeats by the token from registration", async () => {
    const { account, token } = await registerNode(true, "http://127.0.0.1:1", ["show"]);
    const hb = {
      nodeId: account.address.toLowerCase() as `0x${string}`,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [],
    };
    expect((await client.heartbeat(token, hb)).carry).toEqual([]);
    expect(await codeOf(client.heartbeat("f".repeat(64), hb))).toBe("UNAUTHORIZED");
    // A node's token does not let it speak for another node.
    const stranger = newAccount().address.toLowerCase();
    const res = await fetch(`${coordinator.url}/v1/nodes/${hb.nodeId}/heartbeat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ ...hb, nodeId: stranger }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
  });

  it("picks ingest relays, assigns upstreams within fan-out and ranks nodes for viewers", async () => {
    await client.registerStream(await signStreamRegistration(streamer, "live", Date.now()));
    const ingestA = await registerNode(true, "http://127.0.0.1:2", ["live"]);
    const ingestB = await registerNode(true, "http://127.0.0.1:3", ["live"]);
    const beat = (n: { account: { address: string }; token: string }, edge: number) =>
      client.heartbeat(n.token, {
        nodeId: n.account.address.toLowerCase() as `0x${string}`,
        connections: 0,
        egressBps: 0,
        bytesServed: 0,
        streams: [{ streamId: "live", upstream: null, liveEdgeSeq: edge, viewers: 0 }],
      });
    await beat(ingestA, 5);
    await beat(ingestB, 5);
    const info = await client.getStream("live");
    expect(info.ingest.length).toBe(2);
    const puller = await registerNode(false, "http://127.0.0.1:4", []);
    const carry = await beat(puller, -1);
    expect(carry.carry).toContain("live");
    const assignment = await client.assignUpstream("live", puller.account.address);
    expect(info.ingest.map((n) => n.nodeId)).toContain(assignment.upstream.nodeId);
    expect(assignment.depth).toBe(2);
    const other = info.ingest.find((n) => n.nodeId !== assignment.upstream.nodeId);
    const again = await client.assignUpstream("live", puller.account.address, [assignment.upstream.nodeId]);
    expect(again.upstream.nodeId).toBe(other?.nodeId);
    expect(await codeOf(client.assignUpstream("live", newAccount().address))).toBe("NODE_NOT_FOUND");
    await beat(puller, 5);
    const ranked = await client.rankedNodes("live");
    expect(ranked.nodes[0]?.nodeId).toBe(puller.account.address.toLowerCase());
  });

  it("keeps its registry across a restart (SQLite file)", async () => {
    const again = createCoordinator(
      { port: 0, dataDir },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await again.start();
    try {
      const info = await new CoordinatorClient({ baseUrl: again.url }).getStream("show");
      expect(info.signer).toBe(streamer.address.toLowerCase());
    } finally {
      await again.stop();
    }
  });
});
