import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { type AccountingTables, SqliteAccountingStore } from "./accounting/sqlite-accounting.ts";
import type {
  AssignmentRow,
  CoordinatorStore,
  EvidenceRow,
  HeartbeatUpdate,
  NodeRow,
  StreamRow,
  TamperFlag,
} from "./store.ts";

interface Tables {
  streams: { stream_id: string; signer: string; created_at: number; ingest: string };
  nodes: {
    node_id: string;
    url: string;
    region: string;
    capacity_mbps: number;
    ingest: number;
    streams: string;
    token_hash: string;
    registered_at: number;
    last_heartbeat_at: number;
    connections: number;
    egress_bps: number;
    bytes_served: number;
    load: string;
    draining: number;
  };
  assignments: {
    node_id: string;
    stream_id: string;
    upstream_id: string;
    depth: number;
    assigned_at: number;
  };
  evidence: {
    node_id: string;
    stream_id: string;
    rendition: string;
    seq: number;
    attested_sha256: string;
    served_sha256: string;
    node_signature: string | null;
    proven: number;
    attestation: string;
    reported_at: number;
  };
}

type NodeRecord = Tables["nodes"];

function toNode(r: NodeRecord): NodeRow {
  return {
    nodeId: r.node_id,
    url: r.url,
    region: r.region,
    capacityMbps: r.capacity_mbps,
    ingest: r.ingest === 1,
    streams: JSON.parse(r.streams) as string[],
    tokenHash: r.token_hash,
    registeredAt: r.registered_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    connections: r.connections,
    egressBps: r.egress_bps,
    bytesServed: r.bytes_served,
    load: JSON.parse(r.load) as NodeRow["load"],
    draining: r.draining === 1,
  };
}

function toStream(r: Tables["streams"]): StreamRow {
  return {
    streamId: r.stream_id,
    signer: r.signer,
    createdAt: r.created_at,
    ingest: JSON.parse(r.ingest) as string[],
  };
}

/** The embedded default: SQLite in WAL mode under `dataDir` (or in memory for ":memory:"). */
export class SqliteStore implements CoordinatorStore {
  readonly db: Kysely<Tables>;
  readonly accounting: SqliteAccountingStore;
  readonly #sqlite: Database.Database;
  /** getStream runs on every viewer request: one prepared statement, not a query built each time. */
  #streamById: Database.Statement<[string], Tables["streams"]> | undefined;

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
    this.#sqlite = sqlite;
    this.db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
    this.accounting = new SqliteAccountingStore(this.db as unknown as Kysely<AccountingTables>);
  }

  async migrate(): Promise<void> {
    await this.accounting.migrate();
    await this.db.schema
      .createTable("streams")
      .ifNotExists()
      .addColumn("stream_id", "text", (c) => c.primaryKey())
      .addColumn("signer", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("ingest", "text", (c) => c.notNull().defaultTo("[]"))
      .execute();
    await this.db.schema
      .createTable("nodes")
      .ifNotExists()
      .addColumn("node_id", "text", (c) => c.primaryKey())
      .addColumn("url", "text", (c) => c.notNull())
      .addColumn("region", "text", (c) => c.notNull())
      .addColumn("capacity_mbps", "real", (c) => c.notNull())
      .addColumn("ingest", "integer", (c) => c.notNull())
      .addColumn("streams", "text", (c) => c.notNull())
      .addColumn("token_hash", "text", (c) => c.notNull())
      .addColumn("registered_at", "bigint", (c) => c.notNull())
      .addColumn("last_heartbeat_at", "bigint", (c) => c.notNull())
      .addColumn("connections", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("egress_bps", "real", (c) => c.notNull().defaultTo(0))
      .addColumn("bytes_served", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("load", "text", (c) => c.notNull().defaultTo("[]"))
      .execute();
    // Added after the first schema: new databases and old ones get it the same way.
    const columns = await this.db.introspection.getTables();
    if (!columns.find((t) => t.name === "nodes")?.columns.some((c) => c.name === "draining")) {
      await this.db.schema
        .alterTable("nodes")
        .addColumn("draining", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
    }
    await this.db.schema
      .createTable("assignments")
      .ifNotExists()
      .addColumn("node_id", "text", (c) => c.notNull())
      .addColumn("stream_id", "text", (c) => c.notNull())
      .addColumn("upstream_id", "text", (c) => c.notNull())
      .addColumn("depth", "integer", (c) => c.notNull())
      .addColumn("assigned_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("assignments_pk", ["node_id", "stream_id"])
      .execute();
    await this.db.schema
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
    await this.db.schema
      .createIndex("evidence_proven")
      .ifNotExists()
      .on("evidence")
      .columns(["proven", "node_id"])
      .execute();
    await this.db.schema
      .createIndex("evidence_by_time")
      .ifNotExists()
      .on("evidence")
      .columns(["reported_at"])
      .execute();
    await this.db.schema
      .createIndex("evidence_by_node")
      .ifNotExists()
      .on("evidence")
      .columns(["node_id", "reported_at"])
      .execute();
  }

  async getStream(streamId: string): Promise<StreamRow | undefined> {
    this.#streamById ??= this.#sqlite.prepare<[string], Tables["streams"]>(
      "SELECT * FROM streams WHERE stream_id = ?",
    );
    const r = this.#streamById.get(streamId);
    return r && toStream(r);
  }

  async listStreams(): Promise<StreamRow[]> {
    return (await this.db.selectFrom("streams").selectAll().orderBy("stream_id").execute()).map(toStream);
  }

  async insertStream(row: StreamRow): Promise<void> {
    await this.db
      .insertInto("streams")
      .values({
        stream_id: row.streamId,
        signer: row.signer,
        created_at: row.createdAt,
        ingest: JSON.stringify(row.ingest),
      })
      .execute();
  }

  async setIngest(streamId: string, nodeIds: string[]): Promise<void> {
    await this.db
      .updateTable("streams")
      .set({ ingest: JSON.stringify(nodeIds) })
      .where("stream_id", "=", streamId)
      .execute();
  }

  async getNode(nodeId: string): Promise<NodeRow | undefined> {
    const r = await this.db.selectFrom("nodes").selectAll().where("node_id", "=", nodeId).executeTakeFirst();
    return r && toNode(r);
  }

  async listNodes(): Promise<NodeRow[]> {
    return (await this.db.selectFrom("nodes").selectAll().orderBy("node_id").execute()).map(toNode);
  }

  async upsertNode(n: NodeRow): Promise<void> {
    const values = {
      node_id: n.nodeId,
      url: n.url,
      region: n.region,
      capacity_mbps: n.capacityMbps,
      ingest: n.ingest ? 1 : 0,
      streams: JSON.stringify(n.streams),
      token_hash: n.tokenHash,
      registered_at: n.registeredAt,
      last_heartbeat_at: n.lastHeartbeatAt,
      connections: n.connections,
      egress_bps: n.egressBps,
      bytes_served: n.bytesServed,
      load: JSON.stringify(n.load),
      draining: n.draining ? 1 : 0,
    };
    const { node_id: _id, ...update } = values;
    await this.db
      .insertInto("nodes")
      .values(values)
      .onConflict((oc) => oc.column("node_id").doUpdateSet(update))
      .execute();
  }

  async recordHeartbeat(nodeId: string, u: HeartbeatUpdate): Promise<void> {
    await this.db
      .updateTable("nodes")
      .set({
        last_heartbeat_at: u.lastHeartbeatAt,
        connections: u.connections,
        egress_bps: u.egressBps,
        bytes_served: u.bytesServed,
        load: JSON.stringify(u.load),
        draining: u.draining ? 1 : 0,
      })
      .where("node_id", "=", nodeId)
      .execute();
  }

  async listAssignments(streamId: string): Promise<AssignmentRow[]> {
    const rows = await this.db
      .selectFrom("assignments")
      .selectAll()
      .where("stream_id", "=", streamId)
      .execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      streamId: r.stream_id,
      upstreamId: r.upstream_id,
      depth: r.depth,
      assignedAt: r.assigned_at,
    }));
  }

  async upsertAssignment(a: AssignmentRow): Promise<void> {
    await this.db
      .insertInto("assignments")
      .values({
        node_id: a.nodeId,
        stream_id: a.streamId,
        upstream_id: a.upstreamId,
        depth: a.depth,
        assigned_at: a.assignedAt,
      })
      .onConflict((oc) =>
        oc
          .columns(["node_id", "stream_id"])
          .doUpdateSet({ upstream_id: a.upstreamId, depth: a.depth, assigned_at: a.assignedAt }),
      )
      .execute();
  }

  async insertEvidence(e: EvidenceRow): Promise<void> {
    await this.db
      .insertInto("evidence")
      .values({
        node_id: e.nodeId,
        stream_id: e.streamId,
        rendition: e.rendition,
        seq: e.seq,
        attested_sha256: e.attestedSha256,
        served_sha256: e.servedSha256,
        node_signature: e.nodeSignature,
        proven: e.proven ? 1 : 0,
        attestation: e.attestation,
        reported_at: e.reportedAt,
      })
      // Many viewers report the same bad segment: the first report stays (its time is when an
      // unproven report starts to expire), but a proof upgrades an unproven one, or a report
      // sent first without the node's signature would hide the proof for ever.
      .onConflict((oc) =>
        oc
          .columns(["node_id", "stream_id", "rendition", "seq", "served_sha256"])
          .doUpdateSet({ proven: 1, node_signature: (eb) => eb.ref("excluded.node_signature") })
          .where("evidence.proven", "=", 0)
          .where((eb) => eb.ref("excluded.proven"), "=", 1),
      )
      .execute();
  }

  async tamperFlags(unprovenSince: number): Promise<TamperFlag[]> {
    const rows = await this.db
      .selectFrom("evidence")
      .select(["node_id", "stream_id", (eb) => eb.fn.max("proven").as("proven")])
      .where((eb) => eb.or([eb("proven", "=", 1), eb("reported_at", ">=", unprovenSince)]))
      .groupBy(["node_id", "stream_id"])
      .execute();
    return rows.map((r) => ({ nodeId: r.node_id, streamId: r.stream_id, proven: Number(r.proven) === 1 }));
  }

  async listEvidence(nodeId: string, limit = 100): Promise<EvidenceRow[]> {
    const q = this.db
      .selectFrom("evidence")
      .selectAll()
      .where("node_id", "=", nodeId)
      .orderBy("reported_at", "desc")
      .limit(limit);
    return (await q.execute()).map((r) => ({
      nodeId: r.node_id,
      streamId: r.stream_id,
      rendition: r.rendition,
      seq: Number(r.seq),
      attestedSha256: r.attested_sha256,
      servedSha256: r.served_sha256,
      nodeSignature: r.node_signature,
      proven: r.proven === 1,
      attestation: r.attestation,
      reportedAt: Number(r.reported_at),
    }));
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
