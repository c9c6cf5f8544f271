import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { SqlStore, type Tables } from "./sql-store.ts";

const INT8_OID = 20;

/**
 * PostgreSQL, for several coordinator replicas on one database. Every bigint
 * the coordinator stores (ms timestamps, byte counts) is below 2^53, so int8
 * is read as a number, as SQLite gives it.
 */
export class PostgresStore extends SqlStore {
  constructor(url: string, poolSize = 10) {
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client's error (the server restarted) must not crash the process: the pool
    // drops that client and the next query opens a new one.
    pool.on("error", () => {});
    super(new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) }), "postgres");
  }
}

/** The store a coordinator runs on: PostgreSQL when a URL is given, else SQLite under `dataDir`. */
export async function openStore(postgresUrl: string | undefined, dataDir: string): Promise<SqlStore> {
  if (postgresUrl) return new PostgresStore(postgresUrl);
  const { SqliteStore } = await import("./sqlite-store.ts");
  return new SqliteStore(dataDir);
}
