import { randomBytes } from "node:crypto";
import { creditYardstick } from "@streamrp2p/protocol";
import { type Kysely, sql } from "kysely";
import {
  type AccountingStore,
  creditKey,
  type EpochCreditRow,
  type EpochRow,
  type NodeReceiptSummary,
  type ProbeRow,
  type PruneResult,
  type ReceiptRow,
  type SegmentRow,
  type SessionRow,
  type SettlementRow,
} from "./store.ts";
import { siteOf } from "./viewer-identity.ts";

export interface AccountingTables {
  sessions: {
    session_id: string;
    stream_id: string;
    /** Added after the first schema (guarded migration): null on older rows. */
    viewer_key: string | null;
    client_addr: string;
    subnet: string;
    issued_at: number;
    expires_at: number;
    is_probe: number;
  };
  segments: {
    stream_id: string;
    rendition: string;
    seq: number;
    byte_length: number;
    duration_ms: number;
    produced_at: number;
  };
  receipts: {
    session_id: string;
    node_id: string;
    stream_id: string;
    bytes: number;
    segments: number;
    last_seq: number;
    issued_at: number;
    json: string;
  };
  credits: { session_id: string; node_id: string; credited_bytes: number };
  secrets: { name: string; value: string };
  probes: {
    node_id: string;
    stream_id: string;
    at: number;
    ok: number;
    ttfb_ms: number | null;
    throughput_bps: number | null;
    edge_lag: number | null;
    error: string | null;
    via: string | null;
  };
  epochs: { epoch: number; starts_at: number; ends_at: number; closed_at: number; inputs: string };
  settlements: {
    epoch: number;
    root: string;
    tree: string;
    draws: string;
    tx_hash: string | null;
    posted_at: number;
  };
  epoch_credits: {
    epoch: number;
    node_id: string;
    stream_id: string;
    credited_bytes: number;
    claimed_bytes: number;
    sessions: number;
    subnets: number;
    quality: number;
    weight: number;
    flags: string;
  };
}

const toSession = (r: AccountingTables["sessions"]): SessionRow => ({
  sessionId: r.session_id,
  streamId: r.stream_id,
  viewerKey: r.viewer_key ?? null,
  clientAddr: r.client_addr,
  subnet: r.subnet,
  site: siteOf(r.client_addr),
  issuedAt: Number(r.issued_at),
  expiresAt: Number(r.expires_at),
  isProbe: r.is_probe === 1,
});

const toReceipt = (r: AccountingTables["receipts"]): ReceiptRow => ({
  sessionId: r.session_id,
  nodeId: r.node_id,
  streamId: r.stream_id,
  bytes: Number(r.bytes),
  segments: r.segments,
  lastSeq: Number(r.last_seq),
  issuedAt: Number(r.issued_at),
  json: r.json,
});

const toCredit = (r: AccountingTables["epoch_credits"]): EpochCreditRow => ({
  epoch: r.epoch,
  nodeId: r.node_id,
  streamId: r.stream_id,
  creditedBytes: Number(r.credited_bytes),
  claimedBytes: Number(r.claimed_bytes),
  sessions: r.sessions,
  subnets: r.subnets,
  quality: r.quality,
  weight: r.weight,
  flags: JSON.parse(r.flags) as string[],
});

/** Accounting tables in the coordinator's database: the same Kysely queries on SQLite and PostgreSQL. */
export class SqlAccountingStore implements AccountingStore {
  constructor(private readonly db: Kysely<AccountingTables>) {}

  async insertSession(r: SessionRow): Promise<void> {
    await this.db
      .insertInto("sessions")
      .values({
        session_id: r.sessionId,
        stream_id: r.streamId,
        viewer_key: r.viewerKey,
        client_addr: r.clientAddr,
        subnet: r.subnet,
        issued_at: r.issuedAt,
        expires_at: r.expiresAt,
        is_probe: r.isProbe ? 1 : 0,
      })
      .execute();
  }

  async getSessions(ids: string[]): Promise<SessionRow[]> {
    if (ids.length === 0) return [];
    const out: SessionRow[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom("sessions")
        .selectAll()
        .where("session_id", "in", ids.slice(i, i + 500))
        .execute();
      out.push(...rows.map(toSession));
    }
    return out;
  }

  async upsertSegments(rows: SegmentRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto("segments")
      .values(
        rows.map((r) => ({
          stream_id: r.streamId,
          rendition: r.rendition,
          seq: r.seq,
          byte_length: r.byteLength,
          duration_ms: r.durationMs,
          produced_at: r.producedAt,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async segmentsBetween(streamId: string, from: number, to: number): Promise<SegmentRow[]> {
    const rows = await this.db
      .selectFrom("segments")
      .selectAll()
      .where("stream_id", "=", streamId)
      .where("rendition", "!=", "init")
      .where("rendition", "not like", "%.init")
      .where("produced_at", ">=", from)
      .where("produced_at", "<=", to)
      .execute();
    // Every rung of a ladder is in the ledger: one row per seq, the largest rung's (protocol's rule).
    return creditYardstick(
      rows.map((r) => ({
        streamId: r.stream_id,
        rendition: r.rendition,
        seq: Number(r.seq),
        byteLength: r.byte_length,
        durationMs: r.duration_ms,
        producedAt: Number(r.produced_at),
      })),
    );
  }

  async latestSeq(streamId: string): Promise<number> {
    const r = await this.db
      .selectFrom("segments")
      .select(sql<number>`max(seq)`.as("m"))
      .where("stream_id", "=", streamId)
      .where("rendition", "=", "main")
      .executeTakeFirst();
    return r?.m === null || r?.m === undefined ? -1 : Number(r.m);
  }

  async maxInitBytes(streamId: string): Promise<number> {
    const r = await this.db
      .selectFrom("segments")
      .select(sql<number>`max(byte_length)`.as("m"))
      .where("stream_id", "=", streamId)
      // Every rung's inits: a player switching rungs fetches each one's.
      .where((eb) => eb.or([eb("rendition", "=", "init"), eb("rendition", "like", "%.init")]))
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  async getReceipt(sessionId: string, nodeId: string): Promise<ReceiptRow | undefined> {
    const r = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("session_id", "=", sessionId)
      .where("node_id", "=", nodeId)
      .executeTakeFirst();
    return r && toReceipt(r);
  }

  async putReceipt(r: ReceiptRow): Promise<void> {
    const values = {
      session_id: r.sessionId,
      node_id: r.nodeId,
      stream_id: r.streamId,
      bytes: r.bytes,
      segments: r.segments,
      last_seq: r.lastSeq,
      issued_at: r.issuedAt,
      json: r.json,
    };
    await this.db
      .insertInto("receipts")
      .values(values)
      .onConflict((oc) =>
        oc.columns(["session_id", "node_id"]).doUpdateSet({
          bytes: r.bytes,
          segments: r.segments,
          last_seq: r.lastSeq,
          issued_at: r.issuedAt,
          json: r.json,
        }),
      )
      .execute();
  }

  async receiptsInWindow(
    liveFrom: number,
    issuedBefore: number,
  ): Promise<{ receipts: ReceiptRow[]; sessions: SessionRow[] }> {
    const sessions = (
      await this.db.selectFrom("sessions").selectAll().where("expires_at", ">=", liveFrom).execute()
    ).map(toSession);
    const receipts = (
      await this.db
        .selectFrom("receipts")
        .innerJoin("sessions", "sessions.session_id", "receipts.session_id")
        .selectAll("receipts")
        .where("sessions.expires_at", ">=", liveFrom)
        .where("receipts.issued_at", "<", issuedBefore)
        .execute()
    ).map(toReceipt);
    const used = new Set(receipts.map((r) => r.sessionId));
    return { receipts, sessions: sessions.filter((x) => used.has(x.sessionId)) };
  }

  async creditedFor(sessionIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < sessionIds.length; i += 500) {
      const rows = await this.db
        .selectFrom("credits")
        .selectAll()
        .where("session_id", "in", sessionIds.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(creditKey(r.session_id, r.node_id), Number(r.credited_bytes));
    }
    return out;
  }

  async prune(cut: {
    sessionsEndedBefore: number;
    segmentsBefore: number;
    probesBefore: number;
  }): Promise<PruneResult> {
    return this.db.transaction().execute(async (tx) => {
      const ended = tx
        .selectFrom("sessions")
        .select("session_id")
        .where("expires_at", "<", cut.sessionsEndedBefore);
      const n = (r: { numDeletedRows: bigint }[]) => Number(r[0]?.numDeletedRows ?? 0n);
      const receipts = n(await tx.deleteFrom("receipts").where("session_id", "in", ended).execute());
      const credits = n(await tx.deleteFrom("credits").where("session_id", "in", ended).execute());
      const sessions = n(
        await tx.deleteFrom("sessions").where("expires_at", "<", cut.sessionsEndedBefore).execute(),
      );
      // Init segments stay: few, and maxInitBytes reads them. Media segments of every rung go.
      const segments = n(
        await tx
          .deleteFrom("segments")
          .where("rendition", "!=", "init")
          .where("rendition", "not like", "%.init")
          .where("produced_at", "<", cut.segmentsBefore)
          .execute(),
      );
      const probes = n(await tx.deleteFrom("probes").where("at", "<", cut.probesBefore).execute());
      return { sessions, receipts, credits, segments, probes };
    });
  }

  async secret(name: string): Promise<string> {
    // Replicas sharing the database race to make it: the first insert wins, all read the same.
    await this.db
      .insertInto("secrets")
      .values({ name, value: randomBytes(32).toString("hex") })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const r = await this.db
      .selectFrom("secrets")
      .select("value")
      .where("name", "=", name)
      .executeTakeFirstOrThrow();
    return r.value;
  }

  async oldestSessionStart(endedFrom: number): Promise<number | undefined> {
    const r = await this.db
      .selectFrom("sessions")
      .select(sql<number | null>`min(issued_at)`.as("m"))
      .where("expires_at", ">=", endedFrom)
      .executeTakeFirst();
    return r?.m === null || r?.m === undefined ? undefined : Number(r.m);
  }

  async insertProbe(p: ProbeRow): Promise<void> {
    await this.db
      .insertInto("probes")
      .values({
        node_id: p.nodeId,
        stream_id: p.streamId,
        at: p.at,
        ok: p.ok ? 1 : 0,
        ttfb_ms: p.ttfbMs,
        throughput_bps: p.throughputBps,
        edge_lag: p.edgeLag,
        error: p.error,
        via: p.via,
      })
      .execute();
  }

  async probesSince(nodeId: string, since: number): Promise<ProbeRow[]> {
    const rows = await this.db
      .selectFrom("probes")
      .selectAll()
      .where("node_id", "=", nodeId)
      .where("at", ">=", since)
      .orderBy("at")
      .execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      streamId: r.stream_id,
      at: Number(r.at),
      ok: r.ok === 1,
      ttfbMs: r.ttfb_ms,
      throughputBps: r.throughput_bps,
      edgeLag: r.edge_lag,
      error: r.error,
      via: r.via,
    }));
  }

  async lastEpoch(): Promise<EpochRow | undefined> {
    const r = await this.db
      .selectFrom("epochs")
      .selectAll()
      .orderBy("epoch", "desc")
      .limit(1)
      .executeTakeFirst();
    return (
      r && {
        epoch: r.epoch,
        startsAt: Number(r.starts_at),
        endsAt: Number(r.ends_at),
        closedAt: Number(r.closed_at),
        inputs: r.inputs,
      }
    );
  }

  async getEpoch(epoch: number): Promise<{ epoch: EpochRow; credits: EpochCreditRow[] } | undefined> {
    const r = await this.db.selectFrom("epochs").selectAll().where("epoch", "=", epoch).executeTakeFirst();
    if (!r) return undefined;
    const credits = await this.db
      .selectFrom("epoch_credits")
      .selectAll()
      .where("epoch", "=", epoch)
      .orderBy("node_id")
      .execute();
    return {
      epoch: {
        epoch: r.epoch,
        startsAt: Number(r.starts_at),
        endsAt: Number(r.ends_at),
        closedAt: Number(r.closed_at),
        inputs: r.inputs,
      },
      credits: credits.map(toCredit),
    };
  }

  async closeEpoch(e: EpochRow, credits: EpochCreditRow[], cumulative: Map<string, number>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("epochs")
        .values({
          epoch: e.epoch,
          starts_at: e.startsAt,
          ends_at: e.endsAt,
          closed_at: e.closedAt,
          inputs: e.inputs,
        })
        .execute();
      for (const c of credits) {
        await tx
          .insertInto("epoch_credits")
          .values({
            epoch: c.epoch,
            node_id: c.nodeId,
            stream_id: c.streamId,
            credited_bytes: c.creditedBytes,
            claimed_bytes: c.claimedBytes,
            sessions: c.sessions,
            subnets: c.subnets,
            quality: c.quality,
            weight: c.weight,
            flags: JSON.stringify(c.flags),
          })
          .execute();
      }
      for (const [key, bytes] of cumulative) {
        const [sessionId, nodeId] = key.split("|") as [string, string];
        await tx
          .insertInto("credits")
          .values({ session_id: sessionId, node_id: nodeId, credited_bytes: bytes })
          .onConflict((oc) => oc.columns(["session_id", "node_id"]).doUpdateSet({ credited_bytes: bytes }))
          .execute();
      }
    });
  }

  async nodeCredits(nodeId: string): Promise<EpochCreditRow[]> {
    return (
      await this.db
        .selectFrom("epoch_credits")
        .selectAll()
        .where("node_id", "=", nodeId)
        .orderBy("epoch")
        .execute()
    ).map(toCredit);
  }

  async nodeReceiptSummary(nodeId: string): Promise<NodeReceiptSummary> {
    const viewerSessions = this.db.selectFrom("sessions").select("session_id").where("is_probe", "=", 0);
    const r = await this.db
      .selectFrom("receipts")
      .select((eb) => [eb.fn.countAll<number>().as("sessions"), eb.fn.sum<number>("bytes").as("bytes")])
      .where("node_id", "=", nodeId)
      .where("session_id", "in", viewerSessions)
      .executeTakeFirst();
    const c = await this.db
      .selectFrom("credits")
      .select((eb) => eb.fn.sum<number>("credited_bytes").as("bytes"))
      .where("node_id", "=", nodeId)
      .where("session_id", "in", viewerSessions)
      .executeTakeFirst();
    return {
      sessions: Number(r?.sessions ?? 0),
      receiptedBytes: Number(r?.bytes ?? 0),
      accountedBytes: Number(c?.bytes ?? 0),
    };
  }

  async putSettlement(r: SettlementRow): Promise<SettlementRow> {
    const values = {
      epoch: r.epoch,
      root: r.root,
      tree: r.tree,
      draws: r.draws,
      tx_hash: r.txHash,
      posted_at: r.postedAt,
    };
    // The first tree stored for an epoch is the one every replica posts; a transaction is
    // recorded only against the root it posted, and only once.
    const txHash = r.txHash;
    await this.db
      .insertInto("settlements")
      .values(values)
      .onConflict((oc) =>
        txHash === null
          ? oc.column("epoch").doNothing()
          : oc
              .column("epoch")
              .doUpdateSet({ tx_hash: txHash, posted_at: r.postedAt })
              .where("settlements.root", "=", r.root)
              .where("settlements.tx_hash", "is", null),
      )
      .execute();
    return (await this.getSettlement(r.epoch)) as SettlementRow;
  }

  async getSettlement(epoch: number): Promise<SettlementRow | undefined> {
    const r = await this.db
      .selectFrom("settlements")
      .selectAll()
      .where("epoch", "=", epoch)
      .executeTakeFirst();
    return r && toSettlement(r);
  }

  async lastSettlement(): Promise<SettlementRow | undefined> {
    const r = await this.db
      .selectFrom("settlements")
      .selectAll()
      .orderBy("epoch", "desc")
      .limit(1)
      .executeTakeFirst();
    return r && toSettlement(r);
  }
}

function toSettlement(r: AccountingTables["settlements"]): SettlementRow {
  return {
    epoch: r.epoch,
    root: r.root,
    tree: r.tree,
    draws: r.draws,
    txHash: r.tx_hash,
    postedAt: Number(r.posted_at),
  };
}
