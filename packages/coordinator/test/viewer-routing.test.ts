import { request } from "node:http";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import {
  COORDINATOR_DEFAULTS,
  type Coordinator,
  createCoordinator,
  SqliteStore,
} from "@streamrp2p/coordinator";
import {
  generateEd25519,
  RankedNodesSchema,
  SessionGrantSchema,
  signNodeRegistration,
  signStreamRegistration,
} from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";
import { postFrom } from "./support/accounting-harness.ts";

/**
 * Viewer routing on a running coordinator (HTTP on 127.0.0.1, SQLite file,
 * injected clock): region by hint, by GeoIP of a trusted proxy's
 * X-Forwarded-For (and not of anyone else's), reasons on every candidate, a
 * silent node dropping out, and the index rebuilt from the store on restart.
 */
const PROXY = "127.0.0.2"; // a loopback source address this coordinator trusts as a proxy
const GB_ADDRESS = "81.2.69.160"; // GeoLite2's test address for the United Kingdom → eu-west

/** GETs a path from a chosen loopback source address, with extra headers. */
function getFrom(
  baseUrl: string,
  path: string,
  from: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { localAddress: from, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("viewer routing over HTTP", () => {
  const dataDir = join(tempDir("viewer-routing"), "db");
  const streamer = newAccount();
  let t = Date.now();
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  const nodes: Array<{ id: string; region: string; token: string }> = [];

  async function start() {
    coordinator = createCoordinator(
      { port: 0, dataDir, probeIntervalMs: 0, recordIntervalMs: 3_600_000, trustedProxies: [PROXY] },
      { store: new SqliteStore(dataDir), log: silentLogger, now: () => t },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
  }

  async function beat(n: { id: string; token: string }) {
    await client.heartbeat(n.token, {
      nodeId: n.id as `0x${string}`,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [{ streamId: "live", upstream: null, liveEdgeSeq: 5, viewers: 0 }],
    });
  }

  const ranked = async (query = "", from = "127.0.0.1", headers: Record<string, string> = {}) => {
    const r = await getFrom(coordinator.url, `/v1/streams/live/nodes${query}`, from, headers);
    expect(r.status).toBe(200);
    return RankedNodesSchema.parse(r.body).nodes;
  };
  const regionOf = (id: string | undefined) => nodes.find((n) => n.id === id)?.region;

  beforeAll(async () => {
    await start();
    await client.registerStream(await signStreamRegistration(streamer, "live", t));
    for (const [i, region] of ["eu-west", "eu-west", "us-east", "ap-south", "sa-east"].entries()) {
      const account = newAccount();
      const reg = await signNodeRegistration(account, {
        url: `http://127.0.0.1:${9 + i}`,
        region,
        capacityMbps: 1_000,
        ingest: false,
        streams: [],
        issuedAt: t,
      });
      const { token } = await client.registerNode(reg);
      const n = { id: account.address.toLowerCase(), region, token };
      nodes.push(n);
      await beat(n);
    }
  });
  afterAll(() => coordinator.stop());

  it("ranks by the region hint and gives at least three candidates, each with reasons", async () => {
    const list = await ranked("?region=us-east");
    expect(list.length).toBeGreaterThanOrEqual(3);
    expect(regionOf(list[0]?.nodeId)).toBe("us-east");
    expect(list[0]?.reasons).toEqual(["same-region", "spare 100%", "quality 1.00"]);
    for (const n of list) expect(n.reasons.length).toBeGreaterThanOrEqual(3);
    // Never two of one operator (here: each node its own) while others exist: five distinct nodes.
    expect(new Set(list.map((n) => n.nodeId)).size).toBe(list.length);
    const bad = await getFrom(coordinator.url, "/v1/streams/live/nodes?region=Not%20A%20Region", "127.0.0.1");
    expect(bad.status).toBe(400);
  });

  it("places a viewer by GeoIP of X-Forwarded-For only when a trusted proxy sends it", async () => {
    const viaProxy = await ranked("", PROXY, { "x-forwarded-for": GB_ADDRESS });
    expect(regionOf(viaProxy[0]?.nodeId)).toBe("eu-west");
    expect(viaProxy[0]?.reasons[0]).toBe("same-region");
    // The same header from a client is its own claim: ignored; loopback has no region.
    const direct = await ranked("", "127.0.0.1", { "x-forwarded-for": GB_ADDRESS });
    expect(direct[0]?.reasons[0]).toBe("viewer-region-unknown");
    // A hint still wins over the address.
    expect(
      regionOf((await ranked("?region=ap-south", PROXY, { "x-forwarded-for": GB_ADDRESS }))[0]?.nodeId),
    ).toBe("ap-south");
  });

  it("hands a ticket with the ranked candidates (the player's schema)", async () => {
    const keys = await generateEd25519();
    const r = await postFrom(coordinator.url, "/v1/streams/live/sessions", {
      viewerKey: keys.publicKey,
      region: "eu-west",
    });
    expect(r.status).toBe(201);
    const grant = SessionGrantSchema.parse(r.body);
    expect(grant.nodes.length).toBeGreaterThanOrEqual(3);
    expect(regionOf(grant.nodes[0]?.nodeId)).toBe("eu-west");
    expect(grant.nodes[0]?.reasons).toContain("same-region");
  });

  it("drops a node that stops heartbeating, and rebuilds the index from the store on restart", async () => {
    const [silent, ...alive] = nodes as [(typeof nodes)[0], ...typeof nodes];
    t += COORDINATOR_DEFAULTS.nodeTimeoutMs / 2;
    for (const n of alive) await beat(n);
    t += COORDINATOR_DEFAULTS.nodeTimeoutMs / 2 + 1;
    const list = await ranked("?region=eu-west");
    expect(list.map((n) => n.nodeId)).not.toContain(silent.id);
    expect(list.map((n) => n.nodeId).sort()).toEqual(alive.map((n) => n.id).sort());

    await coordinator.stop();
    await start();
    const after = await ranked("?region=eu-west");
    expect(after.map((n) => n.nodeId).sort()).toEqual(alive.map((n) => n.id).sort());
    expect(regionOf(after[0]?.nodeId)).toBe("eu-west");
  });
});
