import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "@streamrp2p/coordinator";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

describe("SQLite store migration", () => {
  it("adds the draining column to a database made before drains, keeping its nodes", async () => {
    const dir = join(tempDir("migration"), "db");
    mkdirSync(dir, { recursive: true });
    const old = new Database(join(dir, "coordinator.sqlite"));
    old.exec(`CREATE TABLE nodes (node_id text primary key, url text not null, region text not null,
      capacity_mbps real not null, ingest integer not null, streams text not null, token_hash text not null,
      registered_at bigint not null, last_heartbeat_at bigint not null, connections integer not null default 0,
      egress_bps real not null default 0, bytes_served bigint not null default 0, load text not null default '[]')`);
    old
      .prepare(
        "INSERT INTO nodes (node_id, url, region, capacity_mbps, ingest, streams, token_hash, registered_at, last_heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?)",
      )
      .run("0xabc", "http://n", "eu", 10, 0, "[]", "h", 1, 2);
    old.close();

    const store = new SqliteStore(dir);
    await store.migrate();
    await store.migrate(); // idempotent
    expect(await store.getNode("0xabc")).toMatchObject({ url: "http://n", draining: false });
    const node = await store.getNode("0xabc");
    if (!node) throw new Error("node lost in migration");
    await store.recordHeartbeats([
      {
        node: { ...node, lastHeartbeatAt: 3, draining: true },
        uptime: { up: 1, down: 0, last: 3 },
      },
    ]);
    expect((await store.getNode("0xabc"))?.draining).toBe(true);
    await store.close();
  });
});
