import { PostgresStore, SqliteStore, type SqlStore } from "@streamrp2p/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, type PostgresServer, startPostgres } from "../../../test/support/postgres-server.ts";
import type { NodeRow } from "../src/store.ts";

/**
 * One store contract, run on SQLite and on a real PostgreSQL server: the same
 * Kysely code and numbered migrations must behave the same on both.
 */
let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const node = (id: string, over: Partial<NodeRow> = {}): NodeRow => ({
  nodeId: id,
  url: `http://127.0.0.1:9${id.slice(-3)}`,
  region: "eu-west",
  capacityMbps: 1234.5678901, // PostgreSQL's "real" would keep 7 digits of this
  ingest: false,
  streams: ["s1"],
  tokenHash: "t".repeat(64),
  registeredAt: 1_000,
  lastHeartbeatAt: 0,
  connections: 0,
  egressBps: 0,
  bytesServed: 0,
  load: [],
  draining: false,
  ...over,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dialects: [string, () => Promise<SqlStore>][] = [
  ["SQLite", async () => new SqliteStore(":memory:")],
  ["PostgreSQL", async () => new PostgresStore(await freshDatabase(server.url))],
];

describe.each(dialects)("coordinator store on %s", (_name, open) => {
  it("migrates by number, twice without harm, and keeps doubles and bigints exact", async () => {
    const store = await open();
    await store.migrate();
    await store.migrate();
    await store.upsertNode(node("0x0000000000000000000000000000000000000001", { bytesServed: 2 ** 52 + 1 }));
    const back = await store.getNode("0x0000000000000000000000000000000000000001");
    expect(back?.capacityMbps).toBe(1234.5678901);
    expect(back?.bytesServed).toBe(2 ** 52 + 1);
    expect(typeof back?.registeredAt).toBe("number");
    // Values from outside (a signed segment duration, a receipt's segment count) fit their columns.
    await store.accounting.upsertSegments([
      {
        streamId: "s",
        rendition: "main",
        seq: 1,
        byteLength: 2 ** 32 - 1,
        durationMs: 2 ** 32 - 1,
        producedAt: 1,
      },
    ]);
    expect((await store.accounting.segmentsBetween("s", 0, 2))[0]?.durationMs).toBe(2 ** 32 - 1);
    await store.close();
  });

  it("writes heartbeats in batches, never an older one over a newer, and keeps a newer registration", async () => {
    const store = await open();
    await store.migrate();
    const ids = Array.from({ length: 1_200 }, (_, i) => `0x${String(i).padStart(40, "0")}`);
    for (const id of ids.slice(0, 3)) await store.upsertNode(node(id));
    // 1,200 rows: more than one statement's worth; rows not registered yet are created.
    await store.recordHeartbeats(
      ids.map((id, i) => ({
        node: node(id, { lastHeartbeatAt: 100, connections: i }),
        uptime: { up: 10, down: 0, last: 100 },
      })),
    );
    expect((await store.listNodes()).length).toBe(1_200);
    const first = ids[0] as string;
    // A stale batch (another replica's, older heartbeat) must not win.
    await store.recordHeartbeats([
      {
        node: node(first, { lastHeartbeatAt: 50, connections: 999 }),
        uptime: { up: 1, down: 0, last: 50 },
      },
    ]);
    expect((await store.getNode(first))?.connections).toBe(0);
    // A registration made meanwhile (new token) survives a heartbeat batch built before it.
    const beforeRegistration = Date.now();
    expect(
      await store.upsertNode(
        node(first, { tokenHash: "n".repeat(64), registeredAt: 2_000, lastHeartbeatAt: 100 }),
      ),
    ).toBe(true);
    // A registration signed no later than the one in force is refused, in the database.
    expect(await store.upsertNode(node(first, { tokenHash: "o".repeat(64), registeredAt: 2_000 }))).toBe(
      false,
    );
    expect(await store.upsertNode(node(first, { tokenHash: "o".repeat(64), registeredAt: 1_999 }))).toBe(
      false,
    );
    await store.recordHeartbeats([
      {
        node: node(first, { lastHeartbeatAt: 200, connections: 7 }),
        uptime: { up: 20, down: 0, last: 200 },
      },
    ]);
    const after = await store.getNode(first);
    expect(after).toMatchObject({
      tokenHash: "n".repeat(64),
      registeredAt: 2_000,
      connections: 7,
      lastHeartbeatAt: 200,
    });
    // changed_at is the database's clock: only the row written since is read back.
    const changed = await store.nodesChangedSince(beforeRegistration - 1);
    expect(changed.map((c) => c.node.nodeId)).toEqual([first]);
    expect(changed[0]?.uptime).toEqual({ up: 20, down: 0, last: 200 });
    await store.close();
  });

  it("gives the epoch lease to one holder until it expires (by the database's clock) or is released", async () => {
    const store = await open();
    await store.migrate();
    const TTL = 400; // ms
    expect(await store.acquireLease("epochs", "a", TTL)).toBe(true);
    expect(await store.acquireLease("epochs", "b", TTL)).toBe(false);
    await sleep(TTL / 2);
    expect(await store.acquireLease("epochs", "a", TTL)).toBe(true); // renewed
    await sleep(TTL / 2 + 50);
    expect(await store.acquireLease("epochs", "b", TTL)).toBe(false); // still a's: it renewed
    await sleep(TTL + 50);
    expect(await store.acquireLease("epochs", "b", TTL)).toBe(true); // a stopped renewing
    expect(await store.acquireLease("epochs", "a", TTL)).toBe(false);
    await store.releaseLease("epochs", "a"); // not a's any more: no effect
    expect(await store.acquireLease("epochs", "a", TTL)).toBe(false);
    await store.releaseLease("epochs", "b");
    expect(await store.acquireLease("epochs", "a", TTL)).toBe(true);
    await store.close();
  });

  it("closes an epoch once: a second close of the same epoch is refused and changes nothing", async () => {
    const store = await open();
    await store.migrate();
    const epoch = { epoch: 7, startsAt: 0, endsAt: 10, closedAt: 11, inputs: "{}" };
    const credit = {
      epoch: 7,
      nodeId: "0xn",
      streamId: "s1",
      creditedBytes: 100,
      claimedBytes: 120,
      sessions: 1,
      subnets: 1,
      quality: 0.987654321,
      weight: 0.123456789012,
      flags: [],
    };
    await store.accounting.closeEpoch(epoch, [credit], new Map([["sess|0xn", 100]]));
    await expect(
      store.accounting.closeEpoch({ ...epoch, closedAt: 12 }, [{ ...credit, creditedBytes: 999 }], new Map()),
    ).rejects.toThrow();
    const got = await store.accounting.getEpoch(7);
    expect(got?.epoch.closedAt).toBe(11);
    expect(got?.credits[0]).toMatchObject({
      creditedBytes: 100,
      weight: 0.123456789012,
      quality: 0.987654321,
    });
    await store.close();
  });

  it("stores evidence once per served hash and lets a proof upgrade a report", async () => {
    const store = await open();
    await store.migrate();
    const e = {
      nodeId: "0xn",
      streamId: "s1",
      rendition: "v",
      seq: 3,
      attestedSha256: "a".repeat(64),
      servedSha256: "b".repeat(64),
      nodeSignature: null,
      proven: false,
      attestation: "{}",
      reportedAt: 10,
    };
    await store.insertEvidence(e);
    await store.insertEvidence({ ...e, reportedAt: 20 });
    await store.insertEvidence({ ...e, nodeSignature: "0xsig", proven: true, reportedAt: 30 });
    const rows = await store.listEvidence("0xn");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ proven: true, nodeSignature: "0xsig", reportedAt: 10 });
    expect(await store.tamperFlags(1_000)).toEqual([{ nodeId: "0xn", streamId: "s1", proven: true }]);
    await store.close();
  });
});
