import type { AccountingStore } from "./accounting/store.ts";
import type { UptimeState } from "./accounting/uptime.ts";

/** Rows as the coordinator keeps them; the store is an interface so PostgreSQL can follow SQLite. */
export interface StreamRow {
  streamId: string;
  signer: string;
  createdAt: number;
  /** Node ids the origin pushes to, in order. */
  ingest: string[];
}

export interface StreamLoadRow {
  streamId: string;
  upstream: string | null;
  liveEdgeSeq: number;
  viewers: number;
}

export interface NodeRow {
  nodeId: string;
  url: string;
  region: string;
  capacityMbps: number;
  ingest: boolean;
  streams: string[];
  tokenHash: string;
  /** The signed `issuedAt` of the registration in force (ms): a later one must be signed after it. */
  registeredAt: number;
  lastHeartbeatAt: number;
  connections: number;
  egressBps: number;
  bytesServed: number;
  load: StreamLoadRow[];
  /** Leaving: kept in the registry, routed to by no one. */
  draining: boolean;
}

export interface AssignmentRow {
  nodeId: string;
  streamId: string;
  upstreamId: string;
  depth: number;
  assignedAt: number;
}

/** A node with what replicas share about it beyond the registry row. */
export interface NodeSnapshot {
  node: NodeRow;
  /** Heartbeat uptime, advanced by whichever replica hears the node. */
  uptime: UptimeState;
  /** When a replica last wrote the row (the database's clock, ms): other replicas read changes by it. */
  changedAt: number;
}

/** One node's heartbeat state as a replica flushes it (batched, never one write per heartbeat). */
export type HeartbeatWrite = Omit<NodeSnapshot, "changedAt">;

export interface HeartbeatUpdate {
  lastHeartbeatAt: number;
  connections: number;
  egressBps: number;
  bytesServed: number;
  load: StreamLoadRow[];
  draining: boolean;
}

/** A viewer's report that a node served bytes contradicting the origin's attestation. */
export interface EvidenceRow {
  nodeId: string;
  streamId: string;
  rendition: string;
  seq: number;
  attestedSha256: string;
  servedSha256: string;
  /** The node's own signature over the served hash: with it the report is a proof. */
  nodeSignature: string | null;
  proven: boolean;
  /** The origin's attestation, as JSON. */
  attestation: string;
  reportedAt: number;
}

/** Evidence against a node on one stream: `proven` when the node's own signature proves it. */
export interface TamperFlag {
  nodeId: string;
  streamId: string;
  proven: boolean;
}

export interface CoordinatorStore {
  /** Proof-of-restreaming tables (sessions, segments, receipts, probes, epochs). */
  readonly accounting: AccountingStore;
  migrate(): Promise<void>;
  getStream(streamId: string): Promise<StreamRow | undefined>;
  listStreams(): Promise<StreamRow[]>;
  insertStream(row: StreamRow): Promise<void>;
  setIngest(streamId: string, nodeIds: string[]): Promise<void>;
  getNode(nodeId: string): Promise<NodeRow | undefined>;
  listNodes(): Promise<NodeRow[]>;
  listNodeSnapshots(): Promise<NodeSnapshot[]>;
  /** Nodes written at or after `since` (ms, the database's clock). */
  nodesChangedSince(since: number): Promise<NodeSnapshot[]>;
  /**
   * A registration: written at once (rare, and every replica must see the new token), only
   * over one signed earlier; false when one signed at or after it is in force.
   */
  upsertNode(row: NodeRow): Promise<boolean>;
  /** Heartbeat state of many nodes in a few statements; an older heartbeat never overwrites a newer one. */
  /** Returns how many statements it took. */
  recordHeartbeats(writes: HeartbeatWrite[]): Promise<number>;
  /**
   * Takes the named lease for `ttlMs` (by the database's clock) if it is free, expired or
   * already ours; true when we hold it. Exactly one replica closes and settles epochs: the lease holder.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  listAssignments(streamId: string): Promise<AssignmentRow[]>;
  /** Every stream's assignments in one read (the carry plan, once a second). */
  listAllAssignments(): Promise<AssignmentRow[]>;
  upsertAssignment(row: AssignmentRow): Promise<void>;
  insertEvidence(row: EvidenceRow): Promise<void>;
  /** A node's reports, newest first, at most `limit` (default 100). */
  listEvidence(nodeId: string, limit?: number): Promise<EvidenceRow[]>;
  /**
   * (node, stream) pairs with evidence that still counts: a proof for ever, an
   * unproven report only if made at or after `unprovenSince` (ms). An indexed
   * lookup, run every few seconds.
   */
  tamperFlags(unprovenSince: number): Promise<TamperFlag[]>;
  close(): Promise<void>;
}
