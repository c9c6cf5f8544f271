import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";

/**
 * The coordinator's schema as numbered migrations, one list for SQLite and
 * PostgreSQL: the same Kysely schema builder, types both accept ("double
 * precision" rather than "real", which PostgreSQL takes as 4 bytes). Kysely's
 * Migrator records what ran in `kysely_migration` and, on PostgreSQL, holds an
 * advisory lock while it runs, so replicas starting together migrate once.
 *
 * 0001 is the schema from before migrations were numbered. It creates what is
 * missing, so databases made by those versions adopt the numbering unchanged.
 */

// biome-ignore lint/suspicious/noExplicitAny: migrations run before any typed table exists
type Db = Kysely<any>;

async function hasColumn(db: Db, table: string, column: string): Promise<boolean> {
  const tables = await db.introspection.getTables();
  return tables.find((t) => t.name === table)?.columns.some((c) => c.name === column) ?? false;
}

async function registryTables(db: Db): Promise<void> {
  await db.schema
    .createTable("streams")
    .ifNotExists()
    .addColumn("stream_id", "text", (c) => c.primaryKey())
    .addColumn("signer", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("ingest", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
  await db.schema
    .createTable("nodes")
    .ifNotExists()
    .addColumn("node_id", "text", (c) => c.primaryKey())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("region", "text", (c) => c.notNull())
    .addColumn("capacity_mbps", "double precision", (c) => c.notNull())
    .addColumn("ingest", "integer", (c) => c.notNull())
    .addColumn("streams", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull())
    .addColumn("registered_at", "bigint", (c) => c.notNull())
    .addColumn("last_heartbeat_at", "bigint", (c) => c.notNull())
    .addColumn("connections", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("egress_bps", "double precision", (c) => c.notNull().defaultTo(0))
    .addColumn("bytes_served", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("load", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
  // Added after the first schema: new databases and old ones get it the same way.
  const columns = await db.introspection.getTables();
  if (!columns.find((t) => t.name === "nodes")?.columns.some((c) => c.name === "draining")) {
    await db.schema
      .alterTable("nodes")
      .addColumn("draining", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
  }
  await db.schema
    .createTable("assignments")
    .ifNotExists()
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("upstream_id", "text", (c) => c.notNull())
    .addColumn("depth", "integer", (c) => c.notNull())
    .addColumn("assigned_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("assignments_pk", ["node_id", "stream_id"])
    .execute();
  await db.schema
    .createTable("evidence")
    .ifNotExists()
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("rendition", "text", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("attested_sha256", "text", (c) => c.notNull())
    .addColumn("served_sha256", "text", (c) => c.notNull())
    .addColumn("node_signature", "text")
    .addColumn("proven", "integer", (c) => c.notNull())
    .addColumn("attestation", "text", (c) => c.notNull())
    .addColumn("reported_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("evidence_once", ["node_id", "stream_id", "rendition", "seq", "served_sha256"])
    .execute();
  // Routing and epochs ask "which (node, stream) pairs have evidence that counts?" every few
  // seconds: proofs through this index, unexpired reports through evidence_by_time. No full scan.
  await db.schema
    .createIndex("evidence_proven")
    .ifNotExists()
    .on("evidence")
    .columns(["proven", "node_id"])
    .execute();
  await db.schema
    .createIndex("evidence_by_time")
    .ifNotExists()
    .on("evidence")
    .columns(["reported_at"])
    .execute();
  await db.schema
    .createIndex("evidence_by_node")
    .ifNotExists()
    .on("evidence")
    .columns(["node_id", "reported_at"])
    .execute();
}

async function accountingTables(db: Db): Promise<void> {
  const s = db.schema;
  await s
    .createTable("sessions")
    .ifNotExists()
    .addColumn("session_id", "text", (c) => c.primaryKey())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("client_addr", "text", (c) => c.notNull())
    .addColumn("subnet", "text", (c) => c.notNull())
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("is_probe", "integer", (c) => c.notNull())
    .execute();
  // Added after the first schema: new databases and old ones get it the same way.
  if (!(await hasColumn(db, "sessions", "viewer_key"))) {
    await s.alterTable("sessions").addColumn("viewer_key", "text").execute();
  }
  // Epoch close reads (and pruning deletes) sessions by the end of their life.
  await s.createIndex("sessions_by_expiry").ifNotExists().on("sessions").column("expires_at").execute();
  await s
    .createTable("segments")
    .ifNotExists()
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("rendition", "text", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("byte_length", "integer", (c) => c.notNull())
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .addColumn("produced_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("segments_pk", ["stream_id", "rendition", "seq"])
    .execute();
  await s
    .createIndex("segments_by_time")
    .ifNotExists()
    .on("segments")
    .columns(["stream_id", "produced_at"])
    .execute();
  await s
    .createTable("receipts")
    .ifNotExists()
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("bytes", "bigint", (c) => c.notNull())
    .addColumn("segments", "integer", (c) => c.notNull())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("json", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("receipts_pk", ["session_id", "node_id"])
    .execute();
  await s
    .createTable("secrets")
    .ifNotExists()
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .execute();
  await s
    .createTable("credits")
    .ifNotExists()
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("credited_bytes", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("credits_pk", ["session_id", "node_id"])
    .execute();
  await s
    .createTable("probes")
    .ifNotExists()
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("ok", "integer", (c) => c.notNull())
    .addColumn("ttfb_ms", "double precision")
    .addColumn("throughput_bps", "double precision")
    .addColumn("edge_lag", "integer")
    .addColumn("error", "text")
    .execute();
  if (!(await hasColumn(db, "probes", "via"))) {
    await s.alterTable("probes").addColumn("via", "text").execute();
  }
  await s.createIndex("probes_by_node").ifNotExists().on("probes").columns(["node_id", "at"]).execute();
  // Pruning after each epoch deletes by age.
  await s.createIndex("probes_by_age").ifNotExists().on("probes").column("at").execute();
  await s.createIndex("segments_by_age").ifNotExists().on("segments").column("produced_at").execute();
  await s
    .createTable("settlements")
    .ifNotExists()
    .addColumn("epoch", "integer", (c) => c.primaryKey())
    .addColumn("root", "text", (c) => c.notNull())
    .addColumn("tree", "text", (c) => c.notNull())
    .addColumn("draws", "text", (c) => c.notNull())
    .addColumn("tx_hash", "text")
    .addColumn("posted_at", "bigint", (c) => c.notNull())
    .execute();
  await s
    .createTable("epochs")
    .ifNotExists()
    .addColumn("epoch", "integer", (c) => c.primaryKey())
    .addColumn("starts_at", "bigint", (c) => c.notNull())
    .addColumn("ends_at", "bigint", (c) => c.notNull())
    .addColumn("closed_at", "bigint", (c) => c.notNull())
    .addColumn("inputs", "text", (c) => c.notNull())
    .execute();
  await s
    .createTable("epoch_credits")
    .ifNotExists()
    .addColumn("epoch", "integer", (c) => c.notNull())
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("stream_id", "text", (c) => c.notNull())
    .addColumn("credited_bytes", "bigint", (c) => c.notNull())
    .addColumn("claimed_bytes", "bigint", (c) => c.notNull())
    .addColumn("sessions", "integer", (c) => c.notNull())
    .addColumn("subnets", "integer", (c) => c.notNull())
    .addColumn("quality", "double precision", (c) => c.notNull())
    .addColumn("weight", "double precision", (c) => c.notNull())
    .addColumn("flags", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("epoch_credits_pk", ["epoch", "node_id", "stream_id"])
    .execute();
}

export type Dialect = "sqlite" | "postgres";

/**
 * Integer columns whose values come from outside (a streamer's attestation, a receipt, a
 * heartbeat) or grow without bound (epoch numbers): bigint, so no value a schema accepts is
 * out of range on PostgreSQL (SQLite's integers are 8 bytes already).
 */
const WIDENED: [table: string, column: string][] = [
  ["segments", "byte_length"],
  ["segments", "duration_ms"],
  ["receipts", "segments"],
  ["epochs", "epoch"],
  ["settlements", "epoch"],
  ["epoch_credits", "epoch"],
  ["epoch_credits", "sessions"],
  ["epoch_credits", "subnets"],
  ["nodes", "connections"],
  ["probes", "edge_lag"],
  ["assignments", "depth"],
];

export const migrations = (dialect: Dialect): Record<string, Migration> => ({
  "0001_initial": {
    async up(db: Db) {
      await accountingTables(db);
      await registryTables(db);
    },
  },
  "0002_replicas": {
    async up(db: Db) {
      // Several coordinators share one database: one of them at a time holds a lease
      // (closing and settling epochs) until it stops renewing it.
      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      // Uptime is kept with the node, not in one replica's memory: whichever replica hears a
      // heartbeat advances it, and whichever closes an epoch reads it.
      await db.schema
        .alterTable("nodes")
        .addColumn("uptime_up_ms", "double precision", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable("nodes")
        .addColumn("uptime_down_ms", "double precision", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable("nodes")
        .addColumn("uptime_last_at", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      // Replicas read the nodes changed since they last looked, by this column.
      await db.schema
        .alterTable("nodes")
        .addColumn("changed_at", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex("nodes_by_change").on("nodes").column("changed_at").execute();
      await sql`update nodes set changed_at = last_heartbeat_at`.execute(db);
    },
  },
  "0003_wide_integers": {
    async up(db: Db) {
      if (dialect !== "postgres") return;
      for (const [table, column] of WIDENED) {
        await db.schema
          .alterTable(table)
          .alterColumn(column, (c) => c.setDataType("bigint"))
          .execute();
      }
    },
  },
});

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrateToLatest(db: Db, dialect: Dialect): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    throw new Error(`migration ${failed?.migrationName ?? "?"} failed: ${String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
