import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "@streamrp2p/coordinator";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

describe("SQLite accounting migration", () => {
  it("opens a database whose sessions predate stored viewer keys, keeping its sessions", async () => {
    const dir = join(tempDir("acc-migration"), "db");
    mkdirSync(dir, { recursive: true });
    const old = new Database(join(dir, "coordinator.sqlite"));
    old.exec(`CREATE TABLE sessions (session_id text primary key, stream_id text not null,
      client_addr text not null, subnet text not null, issued_at bigint not null,
      expires_at bigint not null, is_probe integer not null)`);
    old
      .prepare("INSERT INTO sessions VALUES (?,?,?,?,?,?,?)")
      .run("aa".repeat(16), "show", "10.0.0.1", "10.0.0.0/24", 1, 2, 0);
    old.close();

    const store = new SqliteStore(dir);
    await store.migrate();
    await store.migrate(); // idempotent
    const [row] = await store.accounting.getSessions(["aa".repeat(16)]);
    expect(row).toMatchObject({ streamId: "show", viewerKey: null, issuedAt: 1, expiresAt: 2 });
    await store.close();
  });
});
