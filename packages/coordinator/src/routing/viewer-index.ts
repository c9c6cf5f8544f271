import { SUSPECT_ROUTING_FACTOR } from "../defaults.ts";
import { EDGE_SLACK_SEGMENTS, isHealthy, type NodeStanding } from "../routing.ts";
import type { NodeRow, StreamRow } from "../store.ts";
import { type CapacityState, observe, type Spare, spareOf } from "./capacity.ts";
import { areaOf } from "./geo.ts";
import { LevelView, levelOf } from "./level-view.ts";
import { pickCandidates, type Scored } from "./pick.ts";

/**
 * Viewer routing from memory: every node that holds a stream sits in that
 * stream's views (anywhere, its area, its region) at a level from its spare
 * capacity and standing, computed when it reports (`update`). A request
 * samples a bounded number of nodes from the top levels of the viewer's
 * region, area and the whole stream, scores those exactly, and picks from
 * them: its cost does not grow with the number of nodes or streams.
 *
 * `update(node)` is the only way nodes come in (registration, heartbeats, and
 * other coordinator replicas' heartbeats read from the database), so every
 * replica's index converges on the same rows.
 */

export interface ViewerIndexDeps {
  now: () => number;
  /** Uniform in [0, 1): sampling and the spread among comparable nodes (injected for tests). */
  random: () => number;
  /** A node's quality and evidence on one stream (reputation). */
  standing: (nodeId: string, streamId: string) => NodeStanding;
  /**
   * Who runs a node: the chain's NodeRegistry answer when the coordinator
   * settles on a chain, else the node itself. Never a claim from the node:
   * a sybil would name many operators.
   */
  operatorOf: (nodeId: string) => string;
  /** The stream's newest segment from origin signatures: edges claimed beyond it are not believed. */
  ledgerEdge: (streamId: string) => number | undefined;
}

export interface ViewerIndexOptions {
  /** Nodes silent this long are not offered. */
  nodeTimeoutMs: number;
  /** Candidates in a reply (when that many exist). */
  candidates: number;
  /**
   * Once this many relays other than the stream's ingest relays hold it,
   * ingest relays are not offered to viewers: they feed the tree.
   */
  ingestCutoff: number;
}

/**
 * Nodes sampled per request from the viewer's region, its area and anywhere: the work per
 * request. The wider views give the near and far alternatives and other operators.
 */
const SAMPLE_PER_VIEW = [8, 4, 4] as const;
/** Operators looked at in a view before it gives up (stale entries and duplicates cost visits too). */
const MAX_VISITS_PER_VIEW = 24;
/** Score subtracted from an ingest relay while it is still offered. */
const INGEST_PENALTY = 0.5;

export interface ViewerQuery {
  stream: Pick<StreamRow, "streamId" | "ingest">;
  /** The viewer's region (hint or GeoIP), if known. */
  region: string | undefined;
  /** The viewer is given a ticket for the first candidate: count it there until the node reports again. */
  assign: boolean;
}

export interface ViewerCandidate {
  nodeId: string;
  url: string;
  region: string;
  /** Preference, higher first; strictly decreasing along the list. */
  score: number;
  reasons: string[];
}

interface IndexedNode {
  row: NodeRow;
  operator: string;
  capacity: CapacityState;
  /** Streams whose views hold this node, with the live edge it reported. */
  edges: Map<string, number>;
}

interface StreamViews {
  anywhere: LevelView;
  byPlace: Map<string, LevelView>;
}

export class ViewerIndex {
  readonly #d: ViewerIndexDeps;
  readonly #o: ViewerIndexOptions;
  readonly #nodes = new Map<string, IndexedNode>();
  readonly #streams = new Map<string, StreamViews>();

  constructor(deps: ViewerIndexDeps, options: ViewerIndexOptions) {
    this.#d = deps;
    this.#o = options;
  }

  /** Nodes currently indexed (healthy when last reported). */
  get size(): number {
    return this.#nodes.size;
  }

  /** Takes a node's latest row: placed in the views of every stream it holds, or dropped. */
  update(node: NodeRow): void {
    const now = this.#d.now();
    const prev = this.#nodes.get(node.nodeId);
    if (prev && prev.row.lastHeartbeatAt > node.lastHeartbeatAt) return; // an older row (another replica)
    if (!isHealthy(node, now, this.#o.nodeTimeoutMs)) {
      this.remove(node.nodeId);
      return;
    }
    const operator = this.#d.operatorOf(node.nodeId);
    if (prev && (prev.operator !== operator || prev.row.region !== node.region)) this.remove(node.nodeId);
    const entry: IndexedNode = this.#nodes.get(node.nodeId) ?? {
      row: node,
      operator,
      capacity: observe(undefined, node, now),
      edges: new Map(),
    };
    if (entry.row !== node) {
      entry.capacity = observe(entry.capacity, node, now);
      entry.row = node;
    }
    this.#nodes.set(node.nodeId, entry);
    const held = new Map<string, number>();
    for (const l of node.load) if (l.liveEdgeSeq >= 0) held.set(l.streamId, l.liveEdgeSeq);
    for (const streamId of entry.edges.keys()) if (!held.has(streamId)) this.#unplace(node.nodeId, streamId);
    entry.edges = held;
    const { spare } = spareOf(node, entry.capacity, now);
    for (const streamId of held.keys()) {
      const standing = this.#d.standing(node.nodeId, streamId);
      if (standing.tampered) this.#unplace(node.nodeId, streamId);
      else this.#place(entry, streamId, levelOf(spare * merit(standing)));
    }
  }

  /** Drops a node from every view (it left, drained, or went silent). */
  remove(nodeId: string): void {
    const entry = this.#nodes.get(nodeId);
    if (!entry) return;
    for (const streamId of entry.edges.keys()) this.#unplace(nodeId, streamId);
    this.#nodes.delete(nodeId);
  }

  #place(entry: IndexedNode, streamId: string, level: number): void {
    let views = this.#streams.get(streamId);
    if (!views) {
      views = { anywhere: new LevelView(), byPlace: new Map() };
      this.#streams.set(streamId, views);
    }
    views.anywhere.put(entry.row.nodeId, entry.operator, level);
    for (const place of placesOf(entry.row.region)) {
      let view = views.byPlace.get(place);
      if (!view) {
        view = new LevelView();
        views.byPlace.set(place, view);
      }
      view.put(entry.row.nodeId, entry.operator, level);
    }
  }

  #unplace(nodeId: string, streamId: string): void {
    const views = this.#streams.get(streamId);
    if (!views) return;
    views.anywhere.delete(nodeId);
    for (const [place, view] of views.byPlace) {
      view.delete(nodeId);
      if (view.size === 0) views.byPlace.delete(place);
    }
    if (views.anywhere.size === 0) this.#streams.delete(streamId);
  }

  /** Candidates for one viewer, best first, with the reasons for each. */
  candidates(q: ViewerQuery): ViewerCandidate[] {
    const views = this.#streams.get(q.stream.streamId);
    if (!views) return [];
    const now = this.#d.now();
    const pool = new Map<string, Scored>();
    const silent: string[] = [];
    const ledger = this.#d.ledgerEdge(q.stream.streamId);
    const believed = (entry: IndexedNode) => {
      const edge = entry.edges.get(q.stream.streamId) ?? -1;
      return edge >= 0 && (ledger === undefined || edge <= ledger + EDGE_SLACK_SEGMENTS);
    };
    const consider = (nodeId: string, ingest: boolean): boolean => {
      if (pool.has(nodeId) || (!ingest && q.stream.ingest.includes(nodeId))) return false;
      const entry = this.#nodes.get(nodeId);
      if (!entry) return false;
      if (!isHealthy(entry.row, now, this.#o.nodeTimeoutMs)) {
        silent.push(nodeId);
        return false;
      }
      const standing = this.#d.standing(nodeId, q.stream.streamId);
      if (standing.tampered || !believed(entry)) return false;
      pool.set(nodeId, this.#score(entry, standing, spareOf(entry.row, entry.capacity, now), q, ingest));
      return true;
    };
    const [inRegion, inArea] = q.region === undefined ? [] : placesOf(q.region);
    const sampled = [
      inRegion === undefined ? undefined : views.byPlace.get(inRegion),
      inArea === undefined ? undefined : views.byPlace.get(inArea),
      views.anywhere,
    ];
    for (const [i, view] of sampled.entries()) {
      view?.sample(SAMPLE_PER_VIEW[i] ?? 0, MAX_VISITS_PER_VIEW, this.#d.random, (id) => consider(id, false));
    }
    // Ingest relays feed the tree; viewers get them only while it is too shallow to serve them.
    if (pool.size < this.#o.ingestCutoff) for (const id of q.stream.ingest) consider(id, true);
    for (const id of silent) this.remove(id);
    const picked = pickCandidates([...pool.values()], this.#o.candidates, this.#d.random);
    const first = picked[0] && this.#nodes.get(picked[0].nodeId);
    if (q.assign && first) first.capacity.pending++;
    return picked;
  }

  #score(entry: IndexedNode, standing: NodeStanding, spare: Spare, q: ViewerQuery, ingest: boolean): Scored {
    const n = entry.row;
    const near =
      q.region === undefined
        ? undefined
        : n.region === q.region
          ? 1
          : areaOf(n.region) === areaOf(q.region) // memoised: a string compare
            ? 0.5
            : 0;
    return {
      nodeId: n.nodeId,
      url: n.url,
      region: n.region,
      operator: entry.operator,
      score: ((near ?? 0) + spare.spare - (ingest ? INGEST_PENALTY : 0)) * merit(standing),
      near,
      spare: spare.spare,
      quality: standing.quality,
      suspect: standing.suspect,
      ingest,
    };
  }
}

/** Reputation's weight on a score: quality halves it at worst; unproven evidence quarters it. */
function merit(s: NodeStanding): number {
  return (0.5 + 0.5 * s.quality) * (s.suspect ? SUSPECT_ROUTING_FACTOR : 1);
}

/** The views a node in `region` belongs to, besides anywhere. */
function placesOf(region: string): string[] {
  return [`r:${region}`, `a:${areaOf(region)}`];
}
