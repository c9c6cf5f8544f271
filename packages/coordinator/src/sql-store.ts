import { type Generated, type Kysely, type RawBuilder, type Selectable, sql } from "kysely";
import { type AccountingTables, SqlAccountingStore } from "./accounting/sql-accounting.ts";
import { type Dialect, migrateToLatest } from "./migrations.ts";
import type {
  AssignmentRow,
  CoordinatorStore,
  EvidenceRow,
  HeartbeatWrite,
  NodeRow,
  NodeSnapshot,
  StreamRow,
  TamperFlag,
} from "./store.ts";

export interface Tables {
  leases: { name: string; holder: string; expires_at: number };
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
    uptime_up_ms: Generated<number>;
    uptime_down_ms: Generated<number>;
    uptime_last_at: Generated<number>;
    changed_at: Generated<number>;
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

type NodeRecord = Selectable<Tables["nodes"]>;

function toNode(r: NodeRecord): NodeRow {
  return {
    nodeId: r.node_id,
    url: r.url,
    region: r.region,
    capacityMbps: Number(r.capacity_mbps),
    ingest: r.ingest === 1,
    streams: JSON.parse(r.streams) as string[],
    tokenHash: r.token_hash,
    registeredAt: Number(r.registered_at),
    lastHeartbeatAt: Number(r.last_heartbeat_at),
    connections: r.connections,
    egressBps: Number(r.egress_bps),
    bytesServed: Number(r.bytes_served),
    load: JSON.parse(r.load) as NodeRow["load"],
    draining: r.draining === 1,
  };
}

function toStream(r: Tables["streams"]): StreamRow {
  return {
    streamId: r.stream_id,
    signer: r.signer,
    createdAt: Number(r.created_at),
    ingest: JSON.parse(r.ingest) as string[],
  };
}

/** A node's registry and heartbeat fields as the `nodes` table stores them. */
const nodeColumns = (n: NodeRow) => ({
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
});

const toSnapshot = (r: NodeRecord): NodeSnapshot => ({
  node: toNode(r),
  uptime: { up: r.uptime_up_ms, down: r.uptime_down_ms, last: Number(r.uptime_last_at) },
  changedAt: Number(r.changed_at),
});

/**
 * Rows this many at a time in one multi-row statement: under SQLite's and
 * PostgreSQL's limits on bound parameters (32,766 and 65,535) at 20 columns.
 */
const BATCH_ROWS = 500;

/**
 * The coordinator's tables through Kysely: the same queries on SQLite (the
 * embedded default) and PostgreSQL (several replicas on one database).
 */
export class SqlStore implements CoordinatorStore {
  readonly accounting: SqlAccountingStore;

  constructor(
    readonly db: Kysely<Tables>,
    readonly dialect: Dialect,
  ) {
    this.accounting = new SqlAccountingStore(db as unknown as Kysely<AccountingTables>);
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db, this.dialect);
  }

  /**
   * The database's clock (ms), for what replicas on different machines must agree on: lease
   * expiry and the change log. A replica whose clock runs ahead or behind then neither keeps
   * a lease it lost nor misses another's writes.
   */
  #dbNow(): RawBuilder<number> {
    return this.dialect === "postgres"
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`cast(unixepoch('subsec') * 1000 as integer)`;
  }

  async getStream(streamId: string): Promise<StreamRow | undefined> {
    const r = await this.db
      .selectFrom("streams")
      .selectAll()
      .where("stream_id", "=", streamId)
      .executeTakeFirst();
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

  async listNodeSnapshots(): Promise<NodeSnapshot[]> {
    return (await this.db.selectFrom("nodes").selectAll().orderBy("node_id").execute()).map(toSnapshot);
  }

  async upsertNode(n: NodeRow): Promise<boolean> {
    const values = { ...nodeColumns(n), changed_at: this.#dbNow() };
    const { node_id: _id, ...update } = values;
    // Only a registration signed later than the one in force: of two sent to two replicas at
    // once, or an older one arriving late, exactly one wins, in the database.
    const r = await this.db
      .insertInto("nodes")
      .values(values)
      .onConflict((oc) =>
        oc
          .column("node_id")
          .doUpdateSet(update)
          .where("nodes.registered_at", "<", (eb) => eb.ref("excluded.registered_at")),
      )
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async nodesChangedSince(since: number): Promise<NodeSnapshot[]> {
    const rows = await this.db.selectFrom("nodes").selectAll().where("changed_at", ">=", since).execute();
    return rows.map(toSnapshot);
  }

  async recordHeartbeats(writes: HeartbeatWrite[]): Promise<number> {
    let statements = 0;
    for (let i = 0; i < writes.length; i += BATCH_ROWS) {
      const chunk = writes.slice(i, i + BATCH_ROWS);
      await this.db
        .insertInto("nodes")
        .values(
          chunk.map(({ node: n, uptime }) => ({
            ...nodeColumns(n),
            uptime_up_ms: uptime.up,
            uptime_down_ms: uptime.down,
            uptime_last_at: uptime.last,
            changed_at: this.#dbNow(),
          })),
        )
        // Only what a heartbeat reports: a registration written meanwhile by another replica
        // (new token, URL, streams) stays. An older heartbeat never overwrites a newer one.
        .onConflict((oc) =>
          oc
            .column("node_id")
            .doUpdateSet((eb) => ({
              last_heartbeat_at: eb.ref("excluded.last_heartbeat_at"),
              connections: eb.ref("excluded.connections"),
              egress_bps: eb.ref("excluded.egress_bps"),
              bytes_served: eb.ref("excluded.bytes_served"),
              load: eb.ref("excluded.load"),
              draining: eb.ref("excluded.draining"),
              uptime_up_ms: eb.ref("excluded.uptime_up_ms"),
              uptime_down_ms: eb.ref("excluded.uptime_down_ms"),
              uptime_last_at: eb.ref("excluded.uptime_last_at"),
              changed_at: eb.ref("excluded.changed_at"),
            }))
            .where("nodes.last_heartbeat_at", "<=", (eb) => eb.ref("excluded.last_heartbeat_at")),
        )
        .execute();
      statements++;
    }
    return statements;
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    // One statement, atomic on both databases: take a free or expired lease, or renew our own;
    // expiry by the database's clock, which every replica shares.
    const until = sql<number>`${this.#dbNow()} + ${Math.round(ttlMs)}`;
    await this.db
      .insertInto("leases")
      .values({ name, holder, expires_at: until })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet({ holder, expires_at: until })
          .where((eb) =>
            eb.or([eb("leases.holder", "=", holder), eb("leases.expires_at", "<", this.#dbNow())]),
          ),
      )
      .execute();
    const row = await this.db
      .selectFrom("leases")
      .select("holder")
      .where("name", "=", name)
      .executeTakeFirst();
    return row?.holder === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom("leases").where("name", "=", name).where("holder", "=", holder).execute();
  }

  async listAssignments(streamId: string): Promise<AssignmentRow[]> {
    return this.#assignments(streamId);
  }

  async listAllAssignments(): Promise<AssignmentRow[]> {
    return this.#assignments(undefined);
  }

  async #assignments(streamId: string | undefined): Promise<AssignmentRow[]> {
    let q = this.db.selectFrom("assignments").selectAll();
    if (streamId !== undefined) q = q.where("stream_id", "=", streamId);
    const rows = await q.execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      streamId: r.stream_id,
      upstreamId: r.upstream_id,
      depth: r.depth,
      assignedAt: Number(r.assigned_at),
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
