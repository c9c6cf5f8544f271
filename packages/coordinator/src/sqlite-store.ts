import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { SqlStore, type Tables } from "./sql-store.ts";

/** The embedded default: SQLite in WAL mode under `dataDir` (or in memory for ":memory:"). */
export class SqliteStore extends SqlStore {
  constructor(dataDir: string) {
    let file = ":memory:";
    if (dataDir !== ":memory:") {
      mkdirSync(dataDir, { recursive: true });
      file = join(dataDir, "coordinator.sqlite");
    }
    const sqlite = new Database(file);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("busy_timeout = 5000");
    super(new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) }), "sqlite");
  }
}
