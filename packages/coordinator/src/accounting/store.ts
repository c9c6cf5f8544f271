/** What proof of restreaming keeps: sessions, the segment ledger, receipts, probes, epochs. */

export interface SessionRow {
  sessionId: string;
  streamId: string;
  /** The viewer's Ed25519 key the ticket binds; null for sessions stored before it was kept. */
  viewerKey: string | null;
  /** The client address the ticket was issued to: the viewer identity for caps. */
  clientAddr: string;
  /** Its /24 (IPv4) or /64 (IPv6): the first credit cap's key. */
  subnet: string;
  /**
   * Its /24 (IPv4) or /48 (IPv6): the second credit cap's key. Derived from
   * `clientAddr` when read, never stored apart from it.
   */
  site: string;
  issuedAt: number;
  expiresAt: number;
  /** Issued to the coordinator's own prober: never credited. */
  isProbe: boolean;
}

export interface SegmentRow {
  streamId: string;
  rendition: string;
  seq: number;
  byteLength: number;
  durationMs: number;
  producedAt: number;
}

export interface ReceiptRow {
  sessionId: string;
  nodeId: string;
  streamId: string;
  bytes: number;
  segments: number;
  lastSeq: number;
  issuedAt: number;
  /** The whole signed receipt and ticket, so anyone can recompute. */
  json: string;
}

export interface ProbeRow {
  nodeId: string;
  streamId: string;
  at: number;
  ok: boolean;
  ttfbMs: number | null;
  throughputBps: number | null;
  /** Segments behind the origin's newest; null when the probe failed before knowing. */
  edgeLag: number | null;
  error: string | null;
  /**
   * The go-between relays the probe went through (node ids, comma-separated;
   * null when the coordinator asked directly), kept so that a relay that
   * fails or slows its rivals' probes can be seen and blamed.
   */
  via: string | null;
}

export interface EpochCreditRow {
  epoch: number;
  nodeId: string;
  streamId: string;
  creditedBytes: number;
  claimedBytes: number;
  sessions: number;
  subnets: number;
  quality: number;
  weight: number;
  flags: string[];
}

export interface EpochRow {
  epoch: number;
  startsAt: number;
  endsAt: number;
  closedAt: number;
  /** Inputs and parameters of the computation (JSON), so the result can be recomputed. */
  inputs: string;
}

/** An epoch's settlement: the cumulative tree and the root's transaction. */
export interface SettlementRow {
  epoch: number;
  root: string;
  /** StandardMerkleTree.dump() as JSON; leaves are [address, cumulative amount]. */
  tree: string;
  /** Per stream, what the epoch drew (JSON {streamId: amount}). */
  draws: string;
  txHash: string | null;
  postedAt: number;
}

/** A node's viewer receipts so far (probe sessions excluded). */
export interface NodeReceiptSummary {
  sessions: number;
  /** Sum of the latest cumulative receipt per session. */
  receiptedBytes: number;
  /** Of those, bytes already taken into a closed epoch (credited or capped). */
  accountedBytes: number;
}

export interface AccountingStore {
  insertSession(row: SessionRow): Promise<void>;
  getSessions(ids: string[]): Promise<SessionRow[]>;
  upsertSegments(rows: SegmentRow[]): Promise<void>;
  segmentsBetween(streamId: string, from: number, to: number): Promise<SegmentRow[]>;
  latestSeq(streamId: string): Promise<number>;
  maxInitBytes(streamId: string): Promise<number>;
  getReceipt(sessionId: string, nodeId: string): Promise<ReceiptRow | undefined>;
  putReceipt(row: ReceiptRow): Promise<void>;
  /**
   * The latest receipts issued before `issuedBefore` of sessions whose life
   * ends at or after `liveFrom`, with those sessions: an epoch's window,
   * read through the sessions' expiry index, never the whole table.
   */
  receiptsInWindow(
    liveFrom: number,
    issuedBefore: number,
  ): Promise<{ receipts: ReceiptRow[]; sessions: SessionRow[] }>;
  /** Bytes already credited per (session, node), for these sessions only. */
  creditedFor(sessionIds: string[]): Promise<Map<string, number>>;
  /**
   * Deletes what no later epoch can read: sessions that ended before
   * `sessionsEndedBefore` with their receipts and credits, ledger segments
   * produced before `segmentsBefore`, probes before `probesBefore`.
   */
  prune(cut: {
    sessionsEndedBefore: number;
    segmentsBefore: number;
    probesBefore: number;
  }): Promise<PruneResult>;
  /** A random 32-byte secret (hex) of this coordinator, made on first use and kept; never published. */
  secret(name: string): Promise<string>;
  /** Issue time of the oldest session that ends at or after `endedFrom` (undefined when none). */
  oldestSessionStart(endedFrom: number): Promise<number | undefined>;
  insertProbe(row: ProbeRow): Promise<void>;
  probesSince(nodeId: string, since: number): Promise<ProbeRow[]>;
  lastEpoch(): Promise<EpochRow | undefined>;
  getEpoch(epoch: number): Promise<{ epoch: EpochRow; credits: EpochCreditRow[] } | undefined>;
  /** Stores an epoch's result and the cumulative credit per (session, node) in one transaction. */
  closeEpoch(epoch: EpochRow, credits: EpochCreditRow[], cumulative: Map<string, number>): Promise<void>;
  nodeCredits(nodeId: string): Promise<EpochCreditRow[]>;
  nodeReceiptSummary(nodeId: string): Promise<NodeReceiptSummary>;
  /**
   * Stores an epoch's tree (the first stored wins: replicas post the same root) or the
   * transaction that posted it (only against that root, only once); returns the row in force.
   */
  putSettlement(row: SettlementRow): Promise<SettlementRow>;
  getSettlement(epoch: number): Promise<SettlementRow | undefined>;
  lastSettlement(): Promise<SettlementRow | undefined>;
}

export interface PruneResult {
  sessions: number;
  receipts: number;
  credits: number;
  segments: number;
  probes: number;
}

export const creditKey = (sessionId: string, nodeId: string) => `${sessionId}|${nodeId}`;
