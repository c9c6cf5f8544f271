import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import {
  OFF_CHAIN_DOMAIN,
  SrpError,
  signNodeRegistration,
  signStreamRegistration,
} from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";
import { postFrom } from "./support/accounting-harness.ts";

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

  it("drains a node on its word and reports its status; re-registering brings it back", async () => {
    await client.registerStream(await signStreamRegistration(streamer, "drainy", Date.now()));
    // Supports only its own stream, so it never becomes an ingest relay in the other tests.
    const node = await registerNode(true, "http://127.0.0.1:9", ["drainy"]);
    const nodeId = node.account.address.toLowerCase() as `0x${string}`;
    const beat = (draining: boolean) =>
      client.heartbeat(node.token, {
        nodeId,
        connections: 3,
        egressBps: 8_000_000,
        bytesServed: 1234,
        streams: [{ streamId: "drainy", upstream: null, liveEdgeSeq: 4, viewers: 2 }],
        draining,
      });
    await beat(false);
    expect((await client.rankedNodes("drainy")).nodes.map((n) => n.nodeId)).toContain(nodeId);
    const status = await client.nodeStatus(nodeId);
    expect(status).toMatchObject({
      healthy: true,
      draining: false,
      viewers: 2,
      bytesServed: 1234,
      ingest: true,
    });
    expect(status.receipts).toEqual({ sessions: 0, bytes: 0, pendingBytes: 0 });
    expect(status.rewards).toBeNull(); // this coordinator settles on no chain, and says so
    expect(status.rewardsError).toMatch(/chain/);

    await beat(true);
    expect((await client.rankedNodes("drainy")).nodes.map((n) => n.nodeId)).not.toContain(nodeId);
    expect((await client.getStream("drainy")).ingest.map((n) => n.nodeId)).not.toContain(nodeId);
    expect(await client.nodeStatus(nodeId)).toMatchObject({ healthy: false, draining: true });

    const back = await client.registerNode(
      await signNodeRegistration(node.account, {
        url: "http://127.0.0.1:9",
        region: "local",
        capacityMbps: 100,
        ingest: true,
        streams: ["drainy"],
        issuedAt: Date.now(),
      }),
    );
    await client.heartbeat(back.token, {
      nodeId,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [{ streamId: "drainy", upstream: null, liveEdgeSeq: 5, viewers: 0 }],
    });
    expect(await client.nodeStatus(nodeId)).toMatchObject({ healthy: true, draining: false });
    expect(await codeOf(client.nodeStatus(newAccount().address.toLowerCase()))).toBe("NODE_NOT_FOUND");
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
    const assignment = await client.assignUpstream(puller.token, "live", puller.account.address);
    expect(info.ingest.map((n) => n.nodeId)).toContain(assignment.upstream.nodeId);
    expect(assignment.depth).toBe(2);
    const other = info.ingest.find((n) => n.nodeId !== assignment.upstream.nodeId);
    const again = await client.assignUpstream(puller.token, "live", puller.account.address, [
      assignment.upstream.nodeId,
    ]);
    expect(again.upstream.nodeId).toBe(other?.nodeId);
    expect(await codeOf(client.assignUpstream("x", "live", newAccount().address))).toBe("NODE_NOT_FOUND");
    // Attack: moving another node in the tree, with no token or with one's own.
    const res = await fetch(`${coordinator.url}/v1/streams/live/upstream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nodeId: puller.account.address.toLowerCase(), exclude: [] }),
    });
    expect(res.status).toBe(401);
    expect(await codeOf(client.assignUpstream(ingestA.token, "live", puller.account.address))).toBe(
      "UNAUTHORIZED",
    );
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

describe("coordinator viewer API: tickets and evidence", () => {
  let coordinator: Coordinator;
  const dataDir = join(tempDir("coordinator-viewers"), "db");
  const streamer = newAccount();

  beforeAll(async () => {
    coordinator = createCoordinator(
      { port: 0, dataDir, ticketBurst: 3, ticketsPerMinute: 1 },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
    await new CoordinatorClient({ baseUrl: coordinator.url }).registerStream(
      await signStreamRegistration(streamer, "show", Date.now()),
    );
  });
  afterAll(() => coordinator.stop());

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${coordinator.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };

  it("issues tickets signed by its published key, and rate-limits one client address", async () => {
    const { generateEd25519, verifyTicket } = await import("@streamrp2p/protocol");
    const viewer = await generateEd25519();
    const info = (await (await fetch(`${coordinator.url}/v1/info`)).json()) as { ticketPublicKey: string };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post("/v1/streams/show/sessions", { viewerKey: viewer.publicKey });
      statuses.push(r.status);
      if (r.status === 201) await verifyTicket(r.body.ticket as never, info.ticketPublicKey, Date.now());
      else expect(r.body.error?.code).toBe("RATE_LIMITED");
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    expect((await post("/v1/streams/nosuch/sessions", { viewerKey: viewer.publicKey })).status).toBe(404);
  });

  it("stores evidence only when the origin's attestation verifies, and marks it proven with the node's signature", async () => {
    const { sha256Hex, signSegmentAttestation, signDelivery } = await import("@streamrp2p/protocol");
    const bytes = Buffer.from("true bytes");
    const att = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
      streamId: "show",
      rendition: "main",
      seq: 4,
      initVersion: 0,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs: 1000,
      producedAt: 1,
    });
    const liar = newAccount();
    const served = sha256Hex(Buffer.from("fake bytes"));
    const nodeSignature = await signDelivery(liar, OFF_CHAIN_DOMAIN, att, served);
    // Only a viewer of the stream reports: the evidence carries its session ticket.
    const { generateEd25519 } = await import("@streamrp2p/protocol");
    const session = await postFrom(
      coordinator.url,
      "/v1/streams/show/sessions",
      { viewerKey: (await generateEd25519()).publicKey },
      "127.0.0.2", // the first test drained 127.0.0.1's ticket budget
    );
    expect(session.status).toBe(201);
    const base = {
      ticket: (session.body as { ticket: unknown }).ticket,
      streamId: "show",
      nodeId: liar.address,
      attestation: att,
      servedSha256: served,
      servedBytes: 10,
    };
    const proof = await post("/v1/evidence", { ...base, nodeSignature });
    expect(proof.status).toBe(201);
    expect(proof.body.proven).toBe(true);
    // A node signature by someone else, or over another attestation of the same seq, proves
    // nothing: the report is taken as unproven (any ticket holder can send that much).
    const otherAtt = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, { ...att, producedAt: 2 });
    const [served2, served3] = [sha256Hex(Buffer.from("fake 2")), sha256Hex(Buffer.from("fake 3"))];
    const attempts = [
      {
        servedSha256: served2,
        nodeSignature: await signDelivery(newAccount(), OFF_CHAIN_DOMAIN, att, served2),
      },
      { servedSha256: served3, nodeSignature: await signDelivery(liar, OFF_CHAIN_DOMAIN, otherAtt, served3) },
    ];
    for (const attempt of attempts) {
      const r = await post("/v1/evidence", { ...base, ...attempt });
      expect(r.status).toBe(201);
      expect(r.body.proven).toBe(false);
    }
    // An attestation not signed by the streamer proves nothing.
    const fakeAtt = await signSegmentAttestation(newAccount(), OFF_CHAIN_DOMAIN, { ...att, seq: 5 });
    expect(
      (await post("/v1/evidence", { ...base, attestation: fakeAtt, nodeSignature: null })).body.error?.code,
    ).toBe("BAD_SIGNATURE");
    // Same hash: nothing to report.
    expect(
      (await post("/v1/evidence", { ...base, servedSha256: att.sha256, nodeSignature: null })).body.error
        ?.code,
    ).toBe("VALIDATION_FAILED");
    const listed = (await (await fetch(`${coordinator.url}/v1/nodes/${liar.address}/evidence`)).json()) as {
      evidence: Array<{ proven: boolean; seq: number }>;
    };
    expect(listed.evidence).toHaveLength(3);
    expect(listed.evidence.filter((e) => e.proven)).toMatchObject([{ proven: true, seq: 4 }]);
  });

  it("serves the watch page and the player bundle", async () => {
    const page = await fetch(`${coordinator.url}/watch/show`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/assets/watch.js" defer></script>');
    expect((await fetch(`${coordinator.url}/watch/Bad!Id`)).status).toBe(400);
    expect((await fetch(`${coordinator.url}/player/other.js`)).status).toBe(404);
  });
});
