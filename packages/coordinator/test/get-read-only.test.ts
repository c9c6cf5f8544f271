import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import Database from "better-sqlite3";
import type { LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { ROUTES } from "../../../test/support/http-fuzz.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

const SRC = new URL("../src/", import.meta.url).pathname;
const NODE_TIMEOUT_MS = 6_000;

/** Every `.on("GET", "…")` in the coordinator's sources: a GET added there must be in ROUTES too. */
function getRoutesInSource(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), "utf8");
    for (const m of text.matchAll(/\.on\(\s*"GET",\s*"([^"]+)"/g)) out.push(m[1] as string);
  }
  return out;
}

/** Every row of every table, in a stable order. */
function snapshot(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[];
    return Object.fromEntries(
      tables.map(({ name }) => [
        name,
        (db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[])
          // The epoch lease is renewed every leaseTtlMs/4 by the database's clock: a timer's write,
          // not a GET's. Who holds it still counts.
          .map((r) => JSON.stringify(name === "leases" ? { ...r, expires_at: undefined } : r))
          .sort(),
      ]),
    );
  } finally {
    db.close();
  }
}

/** Each `:param` of `path` filled with every value of its pool: valid ones and hostile ones. */
function targets(path: string, pools: Record<string, readonly string[]>): string[] {
  let out = [path];
  for (const key of path.match(/:([a-zA-Z]+)/g) ?? []) {
    const pool = pools[key.slice(1)] ?? pools.any ?? [];
    out = out.flatMap((p) => pool.map((v) => p.replace(key, v)));
  }
  return out;
}

describe("no GET changes data (coordinator on 127.0.0.1, SQLite)", () => {
  const dataDir = tempDir("get-read-only");
  let t = Date.now();
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  const streamer = newAccount();
  const nodes: { account: LocalAccount; id: string; token: string }[] = [];

  beforeAll(async () => {
    coordinator = createCoordinator(
      {
        port: 0,
        dataDir,
        nodeTimeoutMs: NODE_TIMEOUT_MS,
        ingestPerStream: 1,
        // Background writers quiet while the GETs run: only requests could change the tables.
        ingestSweepMs: 3_600_000,
        recordIntervalMs: 3_600_000,
        probeIntervalMs: 0,
        leaseTtlMs: 3_600_000,
        heartbeatFlushMs: 20,
      },
      { store: new SqliteStore(dataDir), log: silentLogger, now: () => t },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", t));
    for (const port of [9, 10]) {
      const account = newAccount();
      const reg = await signNodeRegistration(account, {
        url: `http://127.0.0.1:${port}`,
        region: "local",
        capacityMbps: 100,
        ingest: true,
        streams: ["show"],
        issuedAt: t,
      });
      const { token } = await client.registerNode(reg);
      const id = account.address.toLowerCase();
      nodes.push({ account, id, token });
      await client.heartbeat(token, {
        nodeId: id as `0x${string}`,
        connections: 1,
        egressBps: 1000,
        bytesServed: 10,
        streams: [{ streamId: "show", upstream: null, liveEdgeSeq: -1, viewers: 0 }],
      });
    }
  });
  afterAll(() => coordinator?.stop());

  it("every GET route is in the list this test (and the HTTP fuzzer) walks", () => {
    const listed = new Set(ROUTES.coordinator.filter((r) => r.method === "GET").map((r) => r.path));
    const inSource = getRoutesInSource(SRC);
    expect(inSource.length).toBeGreaterThan(15);
    expect(inSource.filter((p) => !listed.has(p))).toEqual([]);
  });

  it("leaves every table as it was after every GET and HEAD, with valid and hostile parameters, though the ingest choice is stale", async () => {
    const [first] = nodes;
    expect((await client.getStream("show")).ingest.map((n) => n.nodeId)).toEqual([first?.id]);
    // Every node falls silent: the stored choice now names a node ingest choice would drop,
    // which a GET that re-chose would write. First the background writes settle: the
    // heartbeats' batch and the epoch lease (taken once after start, renewed every 15 min here).
    const file = join(dataDir, "coordinator.sqlite");
    await waitUntil("the heartbeats and the lease written", () => {
      const tables = snapshot(file);
      return (
        tables.leases?.length === 1 &&
        tables.nodes?.every((r) => (JSON.parse(r) as { last_heartbeat_at: number }).last_heartbeat_at > 0)
      );
    });
    t += NODE_TIMEOUT_MS + 1;
    const before = snapshot(file);
    expect(before.streams?.length).toBe(1);
    expect(before.nodes?.length).toBe(2);

    const pools = {
      id: ["show", first?.id ?? "", "nope", "Bad!Id", "%ff", "..%2f..%2fx", "x".repeat(300), "0xZZ"],
      streamId: ["show", "Bad!Id", "..%2fshow"],
      file: ["watch.js", "player.js", "manifest.json", "..%2fmanifest.json", "%00"],
      n: ["0", "1", "-1", "x", "99999999999999999999"],
      address: [first?.id ?? "", "x"],
    };
    const queries = ["", "?region=local", "?region=%ff", `?node=${first?.id}&streamId=show&after=-1`];
    let requests = 0;
    for (const route of ROUTES.coordinator.filter((r) => r.method === "GET")) {
      for (const target of targets(route.path, pools)) {
        for (const query of queries) {
          for (const method of ["GET", "HEAD"]) {
            const res = await fetch(`${coordinator.url}${target}${query}`, { method });
            await res.arrayBuffer();
            requests++;
            // A client's mistake is a 4xx; the only 5xx is "no chain here" on the settlement routes.
            if (res.status >= 500)
              expect(`${target} → ${res.status}`).toMatch(
                /^\/v1\/(settlement|epochs\/[^/]+\/(settlement|proofs))/,
              );
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(500);
    expect(snapshot(file)).toEqual(before);
    // Still what was stored: the GETs answered, they did not choose.
    expect((await client.getStream("show")).ingest.map((n) => n.nodeId)).toEqual([first?.id]);
  });

  it("a write that changes the choice's inputs re-chooses at once (the second node comes back)", async () => {
    const second = nodes[1];
    if (!second) throw new Error("no second node");
    await client.heartbeat(second.token, {
      nodeId: second.id as `0x${string}`,
      connections: 0,
      egressBps: 0,
      bytesServed: 10,
      streams: [],
    });
    expect((await client.getStream("show")).ingest.map((n) => n.nodeId)).toEqual([second.id]);
  });
});

describe("the ingest sweep: what only time changes, without any request", () => {
  it("drops a silent ingest relay within a sweep, though nothing but GETs are asked", async () => {
    let t = Date.now();
    const dataDir = tempDir("ingest-sweep");
    const coordinator = createCoordinator(
      { port: 0, dataDir, nodeTimeoutMs: NODE_TIMEOUT_MS, ingestSweepMs: 20, probeIntervalMs: 0 },
      { store: new SqliteStore(dataDir), log: silentLogger, now: () => t },
    );
    await coordinator.start();
    try {
      const client = new CoordinatorClient({ baseUrl: coordinator.url });
      await client.registerStream(await signStreamRegistration(newAccount(), "show", t));
      const account = newAccount();
      const { token } = await client.registerNode(
        await signNodeRegistration(account, {
          url: "http://127.0.0.1:9",
          region: "local",
          capacityMbps: 100,
          ingest: true,
          streams: [],
          issuedAt: t,
        }),
      );
      const id = account.address.toLowerCase() as `0x${string}`;
      await client.heartbeat(token, {
        nodeId: id,
        connections: 0,
        egressBps: 0,
        bytesServed: 0,
        streams: [],
      });
      expect((await client.getStream("show")).ingest.map((n) => n.nodeId)).toEqual([id]);
      t += NODE_TIMEOUT_MS + 1;
      await waitUntil(
        "the sweep to drop the silent relay",
        async () => (await client.getStream("show")).ingest.length === 0,
        5_000,
        20,
      );
    } finally {
      await coordinator.stop();
    }
  });
});
