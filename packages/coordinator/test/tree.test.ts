import { type AssignmentRow, type NodeRow, type StreamRow, tree } from "@streamrp2p/coordinator";
import { UPSTREAM_LAG_SEGMENTS } from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";

const NOW = 1_000_000;
const TIMEOUT = 6_000;
const EDGE = 100;

function node(id: string, extra: Partial<NodeRow> = {}): NodeRow {
  return {
    nodeId: id,
    url: `http://${id}`,
    region: "eu",
    capacityMbps: 100,
    ingest: false,
    streams: [],
    tokenHash: "",
    registeredAt: 0,
    lastHeartbeatAt: NOW,
    connections: 0,
    egressBps: 0,
    bytesServed: 0,
    load: [{ streamId: "s", upstream: null, liveEdgeSeq: EDGE, viewers: 0 }],
    draining: false,
    ...extra,
  };
}

const stream: StreamRow = { streamId: "s", signer: "0x", createdAt: 0, ingest: ["i1", "i2"] };
const assign = (nodeId: string, upstreamId: string, assignedAt = 0): AssignmentRow => ({
  nodeId,
  streamId: "s",
  upstreamId,
  depth: 0,
  assignedAt,
});

/** Relays joining one after another, each taking what chooseUpstream gives it, as the coordinator does. */
function grow(relays: number, maxChildren: number): { assignments: AssignmentRow[]; nodes: NodeRow[] } {
  const nodes = [node("i1", { ingest: true }), node("i2", { ingest: true })];
  const assignments: AssignmentRow[] = [];
  for (let i = 0; i < relays; i++) {
    const id = `r${String(i).padStart(2, "0")}`;
    const choice = tree.chooseUpstream({
      stream,
      nodeId: id,
      requesterRegion: "eu",
      exclude: [],
      nodes,
      assignments,
      now: NOW,
      nodeTimeoutMs: TIMEOUT,
      maxChildren,
      ledgerEdge: EDGE,
    });
    if (!choice) throw new Error(`no upstream for ${id}`);
    assignments.push(assign(id, choice.node.nodeId));
    nodes.push(node(id));
  }
  return { assignments, nodes };
}

function maxDepth(assignments: AssignmentRow[]): number {
  return Math.max(...tree.depthsOf(stream.ingest, assignments).values());
}

describe("tree shape", () => {
  it("12 relays at fan-out 3: every node, ingest relays included, feeds at most 3; depth 3", () => {
    const { assignments } = grow(10, 3);
    const children = tree.childCounts(assignments);
    expect(Math.max(...children.values())).toBe(3);
    expect(children.get("i1")).toBe(3);
    expect(children.get("i2")).toBe(3);
    // 2 ingest relays, 6 below them, the last 4 one level further: 1 + ceil(log3(12 / 2 + ...)).
    expect(maxDepth(assignments)).toBe(3);
  });

  it("depth grows as log_fanout(n): 32 relays at fan-out 3 are 4 levels deep, 200 at fan-out 4 are 5", () => {
    expect(maxDepth(grow(30, 3).assignments)).toBe(4);
    expect(maxDepth(grow(198, 4).assignments)).toBe(5);
  });

  it("a dead child, or one that tore the stream down, frees its slot; a fresh assignment holds it", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("dead", { lastHeartbeatAt: NOW - TIMEOUT - 1 }),
      node("gone", { load: [] }),
      node("fresh", { load: [] }),
    ];
    const rows = [assign("dead", "i1"), assign("gone", "i1"), assign("fresh", "i1", NOW - 1_000)];
    expect(tree.liveAssignments("s", rows, nodes, NOW, TIMEOUT).map((a) => a.nodeId)).toEqual(["fresh"]);
    const q = {
      stream: { ...stream, ingest: ["i1"] },
      requesterRegion: "eu",
      exclude: [],
      nodes: [...nodes, node("new")],
      now: NOW,
      nodeTimeoutMs: TIMEOUT,
      maxChildren: 2,
    };
    expect(tree.chooseUpstream({ ...q, nodeId: "new", assignments: rows })?.node.nodeId).toBe("i1");
    const full = [...rows, assign("other", "i1", NOW - 1_000)];
    q.nodes.push(node("other", { load: [] })); // assigned, not holding yet: no upstream itself
    expect(tree.chooseUpstream({ ...q, nodeId: "new", assignments: full })).toBeUndefined();
  });

  it("attaches nothing below a relay cut off from the tree (its parent died) or lagging the live edge", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("dead", { lastHeartbeatAt: 0 }),
      node("orphan"),
      node("slow", {
        load: [{ streamId: "s", upstream: "i1", liveEdgeSeq: EDGE - UPSTREAM_LAG_SEGMENTS - 1, viewers: 0 }],
      }),
      node("ok", {
        load: [{ streamId: "s", upstream: "i1", liveEdgeSeq: EDGE - UPSTREAM_LAG_SEGMENTS, viewers: 0 }],
      }),
      node("new"),
    ];
    const assignments = [
      assign("dead", "i1"),
      assign("orphan", "dead"),
      assign("slow", "i1"),
      assign("ok", "i1"),
    ];
    const q = {
      stream: { ...stream, ingest: ["i1"] },
      nodeId: "new",
      requesterRegion: "eu",
      exclude: [] as string[],
      nodes,
      assignments,
      now: NOW,
      nodeTimeoutMs: TIMEOUT,
      maxChildren: 2, // i1 is full with "slow" and "ok" ("dead" holds no slot: it is silent)
      ledgerEdge: EDGE,
    };
    expect(tree.chooseUpstream(q)?.node.nodeId).toBe("ok");
    // Without "ok", only "slow" is left, and it lags.
    expect(tree.chooseUpstream({ ...q, exclude: ["ok"] })).toBeUndefined();
    // Without a ledger edge nothing counts as lagging.
    expect(tree.chooseUpstream({ ...q, exclude: ["ok"], ledgerEdge: undefined })?.node.nodeId).toBe("slow");
  });

  it("hands a relay that left an upstream one of that upstream's children only as a last resort (they stall with it)", () => {
    const holding = (upstream: string) => ({
      load: [{ streamId: "s", upstream, liveEdgeSeq: EDGE, viewers: 0 }],
    });
    const nodes = [
      node("i1", { ingest: true }),
      node("i2", { ingest: true }),
      node("x", holding("i1")),
      node("y", holding("i2")),
      node("sib", holding("x")),
      node("z", holding("y")),
      node("new"),
    ];
    const q = {
      stream,
      nodeId: "new",
      requesterRegion: "eu",
      exclude: [] as string[],
      nodes,
      assignments: [
        assign("x", "i1"),
        assign("y", "i2"),
        assign("sib", "x"),
        assign("z", "y"),
        assign("new", "x"),
      ],
      now: NOW,
      nodeTimeoutMs: TIMEOUT,
      maxChildren: 2,
      ledgerEdge: EDGE,
    };
    // Every candidate is as good as the next; the id breaks the tie: "sib", under x.
    expect(tree.chooseUpstream({ ...q, maxChildren: 1 })?.node.nodeId).toBe("sib");
    // Having left x (frozen: its heartbeats still look fine), the relay gets a node not fed by x...
    expect(tree.chooseUpstream({ ...q, maxChildren: 1, exclude: ["x"] })?.node.nodeId).toBe("z");
    // ...even a deeper one (z is full with w)...
    const withW = {
      ...q,
      maxChildren: 1,
      exclude: ["x"],
      nodes: [...nodes, node("w", holding("z"))],
      assignments: [...q.assignments, assign("w", "z")],
    };
    expect(tree.chooseUpstream(withW)?.node.nodeId).toBe("w");
    // ...and one under x only when nothing else is left (w lags the live edge).
    const lagging = {
      load: [{ streamId: "s", upstream: "z", liveEdgeSeq: EDGE - UPSTREAM_LAG_SEGMENTS - 1, viewers: 0 }],
    };
    const wLags = { ...withW, nodes: [...nodes, node("w", lagging)] };
    expect(tree.chooseUpstream(wLags)?.node.nodeId).toBe("sib");
  });

  it("depthsOf survives a cycle in stale rows", () => {
    const rows = [assign("a", "b"), assign("b", "a"), assign("c", "i1")];
    expect([...tree.depthsOf(["i1"], rows)]).toEqual([
      ["i1", 1],
      ["c", 2],
    ]);
  });
});

describe("demand: who carries a stream", () => {
  const demand = { minRelaysPerStream: 1, recruitLoadRatio: 0.7 };
  const ingest = node("i1", { ingest: true });
  const idle = (id: string, holds = false) =>
    node(id, { load: holds ? [{ streamId: "s", upstream: "i1", liveEdgeSeq: EDGE, viewers: 0 }] : [] });
  const carries = (n: NodeRow, nodes: NodeRow[], assignments: AssignmentRow[] = [], o = demand) =>
    tree
      .streamsToCarry(n, [{ stream: { ...stream, ingest: ["i1"] }, assignments }], nodes, NOW, TIMEOUT, o)
      .includes("s");

  it("keeps minRelaysPerStream standbys, preferring relays that already hold the stream", () => {
    const nodes = [ingest, idle("a"), idle("b", true), idle("c")];
    expect(nodes.filter((n) => carries(n, nodes)).map((n) => n.nodeId)).toEqual(["b"]);
    expect(nodes.filter((n) => carries(n, nodes, [], { ...demand, minRelaysPerStream: 0 }))).toEqual([]);
  });

  it("a relay with viewers or live children carries; when they are gone it is no longer asked to", () => {
    const watched = node("w", { load: [{ streamId: "s", upstream: "i1", liveEdgeSeq: EDGE, viewers: 2 }] });
    const parent = idle("p", true);
    const child = node("k", { load: [{ streamId: "s", upstream: "p", liveEdgeSeq: EDGE, viewers: 1 }] });
    const nodes = [ingest, watched, parent, child, idle("a", true)];
    const rows = [assign("p", "i1"), assign("k", "p")];
    const o = { ...demand, minRelaysPerStream: 0 };
    expect(nodes.filter((n) => carries(n, nodes, rows, o)).map((n) => n.nodeId)).toEqual(["w", "p", "k"]);
    const childDied = [ingest, watched, parent, { ...child, lastHeartbeatAt: 0 }];
    expect(carries(parent, childDied, rows, o)).toBe(false);
  });

  it("a holder near its capacity recruits one more standby; an ingest relay is never told to pull its own stream", () => {
    const busy = { ...ingest, egressBps: 80e6 };
    const nodes = [busy, idle("a", true), idle("b"), idle("c")];
    expect(nodes.filter((n) => carries(n, nodes)).map((n) => n.nodeId)).toEqual(["a", "b"]);
  });

  it("a holder swamped by a flash crowd recruits in proportion to its crowd, not one standby at a time", () => {
    // 100 Mbit/s line at full egress, 500 viewers waiting: five lines' worth of demand.
    const swamped = node("w", {
      egressBps: 100e6,
      connections: 500,
      load: [{ streamId: "s", upstream: "i1", liveEdgeSeq: EDGE, viewers: 500 }],
    });
    const spares = ["a", "b", "c", "d", "e", "f"].map((id) => idle(id));
    const nodes = [ingest, swamped, ...spares];
    const o = { ...demand, minRelaysPerStream: 0 };
    const standbys = spares.filter((n) => carries(n, nodes, [], o));
    expect(tree.demandRatio(swamped)).toBeGreaterThan(10);
    expect(standbys.length).toBe(tree.MAX_RECRUITS_PER_HOLDER);
    // Egress alone (what the rule read before) says "full", never "five times over".
    const quiet = { ...swamped, connections: 0 };
    expect(spares.filter((n) => carries(n, [ingest, quiet, ...spares], [], o))).toHaveLength(1);
  });

  it("nothing is carried while no ingest relay holds the stream", () => {
    const nodes = [node("i1", { ingest: true, load: [] }), idle("a")];
    expect(carries(nodes[1] as NodeRow, nodes)).toBe(false);
  });
});
