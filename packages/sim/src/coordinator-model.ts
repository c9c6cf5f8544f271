import {
  type AssignmentRow,
  COORDINATOR_DEFAULTS,
  type NodeRow,
  type ProbeRow,
  REPUTATION_PARAMS,
  reputation,
  routing,
  type TamperFlag,
  TamperIndex,
  tree,
  UptimeTracker,
  ViewerIndex,
} from "@streamrp2p/coordinator";
import type { Rng } from "./rng.ts";
import { edgeOf, type SimNode, type SimStream } from "./world.ts";

/** Probes kept per node: older ones weigh < 1/256 after eight half-lives anyway. */
const MAX_PROBES_PER_NODE = 64;
/** A node's cached reputation is recomputed this often (the real coordinator caches it too). */
const QUALITY_TTL_MS = 60_000;

export interface CoordinatorWork {
  heartbeats: number;
  routeRequests: number;
  upstreamChoices: number;
  probes: number;
}

/**
 * The coordinator as the simulator runs it: the production ViewerIndex,
 * UptimeTracker, TamperIndex, reputation, ingest choice and tree rules,
 * fed by simulated heartbeats on the virtual clock. Only the transport
 * (HTTP) and the store (SQL) are replaced: rows are handed over in memory.
 */
export class CoordinatorModel {
  readonly index: ViewerIndex;
  readonly uptime: UptimeTracker;
  readonly nodeTimeoutMs: number;
  readonly work: CoordinatorWork = { heartbeats: 0, routeRequests: 0, upstreamChoices: 0, probes: 0 };
  readonly #byId: Map<string, SimNode>;
  readonly #assignments = new Map<string, Map<string, AssignmentRow>>();
  #tamper = new TamperIndex();
  readonly #flags = new Map<string, TamperFlag>();

  constructor(
    private readonly nodes: SimNode[],
    private readonly streams: SimStream[],
    readonly now: () => number,
    rng: Rng,
    heartbeatMs: number,
  ) {
    // Three missed heartbeats, as the defaults (2 s beats, 6 s timeout).
    this.nodeTimeoutMs = 3 * heartbeatMs;
    this.uptime = new UptimeTracker(this.nodeTimeoutMs, REPUTATION_PARAMS.halfLifeMs);
    this.#byId = new Map(nodes.map((n) => [n.id, n]));
    const random = rng.fork();
    this.index = new ViewerIndex(
      {
        now,
        random: () => random.next(),
        standing: (nodeId, streamId) => this.standing(nodeId, streamId),
        operatorOf: (nodeId) => this.#byId.get(nodeId)?.operator ?? nodeId,
        ledgerEdge: (streamId) => {
          const s = this.streams[Number(streamId.slice(1))];
          return s && edgeOf(s, this.now());
        },
      },
      {
        nodeTimeoutMs: this.nodeTimeoutMs,
        candidates: COORDINATOR_DEFAULTS.viewerCandidates,
        ingestCutoff: COORDINATOR_DEFAULTS.viewerIngestCutoff,
      },
    );
  }

  node(id: string): SimNode | undefined {
    return this.#byId.get(id);
  }

  standing(nodeId: string, streamId: string) {
    const state = this.#tamper.of(nodeId, streamId);
    return { quality: this.quality(nodeId), tampered: state === "proven", suspect: state === "suspect" };
  }

  /** The node's reputation quality (probes, heartbeat uptime, proofs) at `at`. */
  quality(nodeId: string, at = this.now()): number {
    const n = this.#byId.get(nodeId);
    if (!n) return 0;
    if (at === this.now() && n.qualityAt >= 0 && at - n.qualityAt < QUALITY_TTL_MS) return n.quality;
    const r = reputation(
      n.probes.filter((p) => p.at <= at),
      this.uptime.uptime(nodeId, at),
      this.#tamper.provenOnAnyStream(nodeId),
      at,
    );
    if (at === this.now()) {
      n.quality = r.quality;
      n.qualityAt = at;
    }
    return r.quality;
  }

  /** One heartbeat: the row the node would send, into the index and the uptime tracker. */
  heartbeat(n: SimNode, tickMs: number): void {
    const now = this.now();
    let viewers = 0;
    const load: NodeRow["load"] = [];
    for (const [streamId, c] of n.carried) {
      viewers += c.viewers;
      const s = this.streams[Number(streamId.slice(1))] as SimStream;
      // A relay reports the edge once it has segments: after its first tick with the stream.
      const edge = c.avail > 0 && now - c.since >= tickMs ? edgeOf(s, now) : -1;
      load.push({ streamId, upstream: c.upstream, liveEdgeSeq: edge, viewers: c.viewers });
    }
    const children = this.childrenOf(n.id);
    n.row = {
      ...n.row,
      lastHeartbeatAt: now,
      connections: viewers + children,
      egressBps: Math.round((n.bitsLastTick * 1000) / tickMs),
      bytesServed: n.bytesSent,
      load,
    };
    this.uptime.heartbeat(n.id, now);
    this.index.update(n.row);
    this.work.heartbeats++;
  }

  #childCount = new Map<string, number>();
  #ingestStreams = new Map<string, number>();
  childrenOf(nodeId: string): number {
    return this.#childCount.get(nodeId) ?? 0;
  }

  assignmentsOf(streamId: string): Map<string, AssignmentRow> {
    let m = this.#assignments.get(streamId);
    if (!m) {
      m = new Map();
      this.#assignments.set(streamId, m);
    }
    return m;
  }

  /**
   * One pass of the tree rules for every stream, as the heartbeat replies
   * would give them: ingest relays (chooseIngest), standbys (recruitsFrom),
   * who drops a stream (no demand, not a standby), and an upstream for every
   * relay without a live one (chooseUpstream).
   */
  planTrees(): void {
    const now = this.now();
    const rows = this.nodes.map((n) => n.row);
    const ix = tree.recruitIndex(rows, now, this.nodeTimeoutMs);
    const ingestRows = rows.filter((r) => r.ingest);
    const opts = {
      minRelaysPerStream: COORDINATOR_DEFAULTS.minRelaysPerStream,
      recruitLoadRatio: COORDINATOR_DEFAULTS.recruitLoadRatio,
    };
    this.#childCount = new Map();
    // Streams each node is ingest for, moved on by every choice in this pass (as IngestChoice does).
    this.#ingestStreams = routing.ingestCounts(
      this.streams.filter((s) => s.startedAt <= now).map((s) => s.row),
    );
    for (const s of this.streams) if (s.startedAt <= now) this.#planStream(s, ix, ingestRows, opts, now);
  }

  #planStream(
    s: SimStream,
    ix: ReturnType<typeof tree.recruitIndex>,
    ingestRows: NodeRow[],
    opts: { minRelaysPerStream: number; recruitLoadRatio: number },
    now: number,
  ): void {
    const healthy = (id: string) => {
      const r = ix.byId.get(id);
      return r !== undefined && routing.isHealthy(r, now, this.nodeTimeoutMs);
    };
    // The ingest sweep re-chooses only when a current ingest relay is no longer usable.
    if (s.row.ingest.length < COORDINATOR_DEFAULTS.ingestPerStream || !s.row.ingest.every(healthy)) {
      const before = new Set(s.row.ingest);
      s.row = {
        ...s.row,
        ingest: routing.chooseIngest(
          s.row,
          ingestRows,
          now,
          this.nodeTimeoutMs,
          COORDINATOR_DEFAULTS.ingestPerStream,
          new Set(),
          this.#ingestStreams,
        ),
      };
      for (const id of before)
        this.#ingestStreams.set(id, Math.max(0, (this.#ingestStreams.get(id) ?? 0) - 1));
      for (const id of s.row.ingest) this.#ingestStreams.set(id, (this.#ingestStreams.get(id) ?? 0) + 1);
      for (const id of s.row.ingest) {
        const n = this.#byId.get(id) as SimNode;
        this.#carry(n, s.id, now).upstream = null;
        this.assignmentsOf(s.id).delete(id);
      }
      for (const id of before) if (!s.row.ingest.includes(id)) this.#drop(id, s.id);
    }
    const asg = this.assignmentsOf(s.id);
    const live = tree.liveAssignments(s.id, [...asg.values()], ix.byId, now, this.nodeTimeoutMs);
    const children = tree.childCounts(live);
    const standby = tree.recruitsFrom(s.row, ix, children, opts);
    // Holders without demand that are not standbys tear the stream down.
    for (const n of this.#holders(s.id)) {
      if (s.row.ingest.includes(n.id)) continue;
      const a = asg.get(n.id);
      const c = n.carried.get(s.id);
      const demand = (c?.viewers ?? 0) > 0 || (children.get(n.id) ?? 0) > 0;
      if (!n.alive || (!demand && !standby.has(n.id))) {
        if (!n.alive || now - (a?.assignedAt ?? 0) > this.nodeTimeoutMs) this.#drop(n.id, s.id);
      }
    }
    for (const id of standby) {
      const n = this.#byId.get(id) as SimNode;
      this.#carry(n, s.id, now);
    }
    this.#attach(s, ix, now);
    for (const a of asg.values())
      this.#childCount.set(a.upstreamId, (this.#childCount.get(a.upstreamId) ?? 0) + 1);
  }

  /** Relays of the stream without a healthy upstream get one (chooseUpstream over the stream's tree). */
  #attach(s: SimStream, ix: ReturnType<typeof tree.recruitIndex>, now: number): void {
    const asg = this.assignmentsOf(s.id);
    const members = new Set<string>([...s.row.ingest, ...asg.keys()]);
    const orphans: SimNode[] = [];
    for (const n of this.#holders(s.id)) {
      if (s.row.ingest.includes(n.id)) continue;
      const a = asg.get(n.id);
      const up = a && ix.byId.get(a.upstreamId);
      if (!a || !up || !routing.isHealthy(up, now, this.nodeTimeoutMs)) orphans.push(n);
      members.add(n.id);
    }
    if (orphans.length === 0) return;
    const rows = [...members].flatMap((id) => {
      const r = ix.byId.get(id);
      return r ? [r] : [];
    });
    for (const n of orphans) {
      this.work.upstreamChoices++;
      const choice = tree.chooseUpstream({
        stream: s.row,
        nodeId: n.id,
        requesterRegion: n.region,
        exclude: [],
        nodes: rows,
        assignments: [...asg.values()],
        now,
        nodeTimeoutMs: this.nodeTimeoutMs,
        maxChildren: COORDINATOR_DEFAULTS.maxChildren,
        ledgerEdge: edgeOf(s, now),
      });
      const c = n.carried.get(s.id);
      if (!choice || !c) {
        asg.delete(n.id);
        if (c) c.upstream = null;
        continue;
      }
      asg.set(n.id, {
        nodeId: n.id,
        streamId: s.id,
        upstreamId: choice.node.nodeId,
        depth: choice.depth,
        assignedAt: now,
      });
      c.upstream = choice.node.nodeId;
    }
  }

  readonly #holderSets = new Map<string, Set<string>>();
  /** Nodes that carry a stream (kept in step with each node's `carried`). */
  #holders(streamId: string): SimNode[] {
    return [...(this.#holderSets.get(streamId) ?? [])].map((id) => this.#byId.get(id) as SimNode);
  }

  #carry(n: SimNode, streamId: string, now: number) {
    let c = n.carried.get(streamId);
    if (!c) {
      c = { upstream: null, since: now, viewers: 0, avail: 0 };
      n.carried.set(streamId, c);
    }
    let set = this.#holderSets.get(streamId);
    if (!set) {
      set = new Set();
      this.#holderSets.set(streamId, set);
    }
    set.add(n.id);
    return c;
  }

  #drop(nodeId: string, streamId: string): void {
    const n = this.#byId.get(nodeId);
    n?.carried.delete(streamId);
    this.assignmentsOf(streamId).delete(nodeId);
    this.#holderSets.get(streamId)?.delete(nodeId);
  }

  /** A node that went dark loses everything it carried (its children re-parent on the next pass). */
  nodeDown(n: SimNode): void {
    for (const streamId of [...n.carried.keys()]) this.#drop(n.id, streamId);
  }

  addProbe(row: ProbeRow): void {
    const n = this.#byId.get(row.nodeId);
    if (!n) return;
    n.probes.push(row);
    if (n.probes.length > MAX_PROBES_PER_NODE) n.probes.shift();
    n.qualityAt = -1;
    this.work.probes++;
  }

  /** Evidence from a viewer or a probe; `proven` when the node's own signature contradicts the attestation. */
  addEvidence(nodeId: string, streamId: string, proven: boolean): boolean {
    const key = `${nodeId}/${streamId}`;
    const had = this.#flags.get(key);
    if (had?.proven || (had && !proven)) return false;
    this.#flags.set(key, { nodeId, streamId, proven });
    this.#tamper = new TamperIndex([...this.#flags.values()]);
    const n = this.#byId.get(nodeId);
    if (n) {
      n.qualityAt = -1;
      this.index.update(n.row);
    }
    return true;
  }

  get tamper(): TamperIndex {
    return this.#tamper;
  }
}
