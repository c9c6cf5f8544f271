import { type NodeRow, routing, type StreamRow, tree } from "@streamrp2p/coordinator";
import { describe, expect, it } from "vitest";

const NOW = 1_000_000;
const TIMEOUT = 6_000;

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
    load: [{ streamId: "s", upstream: null, liveEdgeSeq: 10, viewers: 0 }],
    draining: false,
    ...extra,
  };
}

const DEMAND = { minRelaysPerStream: 8, recruitLoadRatio: 0.7 };

const stream: StreamRow = { streamId: "s", signer: "0x", createdAt: 0, ingest: ["i1", "i2"] };

describe("chooseIngest", () => {
  it("keeps healthy current choices and fills with the least loaded ingest nodes", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("i2", { ingest: true, lastHeartbeatAt: NOW - TIMEOUT - 1 }),
      node("i3", { ingest: true, egressBps: 50e6 }),
      node("i4", { ingest: true, egressBps: 10e6 }),
      node("r1", { ingest: false }),
    ];
    expect(routing.chooseIngest(stream, nodes, NOW, TIMEOUT, 2)).toEqual(["i1", "i4"]);
  });

  it("skips ingest nodes that do not support the stream", () => {
    const nodes = [node("i1", { ingest: true, streams: ["other"] }), node("i5", { ingest: true })];
    expect(routing.chooseIngest({ ...stream, ingest: [] }, nodes, NOW, TIMEOUT, 2)).toEqual(["i5"]);
  });
});

describe("chooseUpstream", () => {
  const base = {
    stream,
    requesterRegion: "eu",
    exclude: [] as string[],
    now: NOW,
    nodeTimeoutMs: TIMEOUT,
    maxChildren: 2,
  };

  it("bounds fan-out: a full ingest relay hands new relays to its children", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("i2", { ingest: true }),
      node("a"),
      node("b"),
      node("c"),
      node("d"),
      node("e"),
    ];
    const assignments = [
      { nodeId: "a", streamId: "s", upstreamId: "i1", depth: 2, assignedAt: 0 },
      { nodeId: "b", streamId: "s", upstreamId: "i1", depth: 2, assignedAt: 0 },
      { nodeId: "c", streamId: "s", upstreamId: "i2", depth: 2, assignedAt: 0 },
      { nodeId: "d", streamId: "s", upstreamId: "i2", depth: 2, assignedAt: 0 },
    ];
    const choice = tree.chooseUpstream({ ...base, nodeId: "e", nodes, assignments });
    expect(["a", "b", "c", "d"]).toContain(choice?.node.nodeId);
    expect(choice?.depth).toBe(3);
  });

  it("prefers the requester's region, then shallower nodes", () => {
    const nodes = [
      node("i1", { ingest: true, region: "us" }),
      node("i2", { ingest: true, region: "us" }),
      node("a", { region: "eu" }),
      node("new"),
    ];
    const assignments = [{ nodeId: "a", streamId: "s", upstreamId: "i1", depth: 2, assignedAt: 0 }];
    expect(tree.chooseUpstream({ ...base, nodeId: "new", nodes, assignments })?.node.nodeId).toBe("a");
    // Same region and depth: the one with fewer children (i1 already feeds a).
    expect(
      tree.chooseUpstream({ ...base, requesterRegion: "us", nodeId: "new", nodes, assignments })?.node.nodeId,
    ).toBe("i2");
  });

  it("never creates a cycle: a node's descendants are not its upstream", () => {
    const nodes = [
      node("i1", { ingest: true, lastHeartbeatAt: 0 }),
      node("i2", { ingest: true, lastHeartbeatAt: 0 }),
      node("a"),
      node("b"),
    ];
    const assignments = [
      { nodeId: "a", streamId: "s", upstreamId: "i1", depth: 2, assignedAt: 0 },
      { nodeId: "b", streamId: "s", upstreamId: "a", depth: 3, assignedAt: 0 },
    ];
    // a's upstream died; its only other candidate is its own child b.
    expect(
      tree.chooseUpstream({ ...base, nodeId: "a", nodes, assignments, exclude: ["i1"] }),
    ).toBeUndefined();
  });

  it("honours exclusions, health, and whether a relay really holds the stream", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("i2", { ingest: true, lastHeartbeatAt: 0 }),
      node("a", { load: [] }), // assigned but holds nothing yet
    ];
    const assignments = [{ nodeId: "a", streamId: "s", upstreamId: "i1", depth: 2, assignedAt: 0 }];
    expect(
      tree.chooseUpstream({ ...base, nodeId: "x", nodes, assignments, exclude: ["i1"] }),
    ).toBeUndefined();
    expect(tree.chooseUpstream({ ...base, nodeId: "x", nodes, assignments })?.node.nodeId).toBe("i1");
  });
});

describe("streamsToCarry", () => {
  it("asks pulling nodes for live streams they support and never for streams pushed to them", () => {
    const streams: StreamRow[] = [stream, { streamId: "t", signer: "0x", createdAt: 0, ingest: ["i1"] }];
    const nodes = [
      node("i1", { ingest: true, load: [{ streamId: "s", upstream: null, liveEdgeSeq: 3, viewers: 0 }] }),
      node("r"),
    ];
    const trees = streams.map((s) => ({ stream: s, assignments: [] }));
    const carry = (n: NodeRow) => tree.streamsToCarry(n, trees, [...nodes, n], NOW, TIMEOUT, DEMAND);
    expect(carry(node("r"))).toEqual(["s"]);
    expect(carry(node("r", { streams: ["t"] }))).toEqual([]);
    expect(carry(nodes[0] as NodeRow)).toEqual([]);
  });
});

describe("draining and support lists", () => {
  it("routes neither children nor ingest to a draining node (viewers: viewer-index.test.ts)", () => {
    const nodes = [
      node("i1", { ingest: true }),
      node("i2", { ingest: true, draining: true }),
      node("a"),
      node("b", { draining: true }),
    ];
    expect(routing.chooseIngest(stream, nodes, NOW, TIMEOUT, 2)).toEqual(["i1"]);
    const up = tree.chooseUpstream({
      stream: { ...stream, ingest: ["i2"] },
      nodeId: "a",
      requesterRegion: "eu",
      exclude: [],
      nodes,
      assignments: [],
      now: NOW,
      nodeTimeoutMs: TIMEOUT,
      maxChildren: 4,
    });
    expect(up).toBeUndefined();
  });

  it("carries a stream for a node supporting it by id or by its streamer's address, and no other", () => {
    const signer = "0x00000000000000000000000000000000000000aa";
    const s1: StreamRow = { streamId: "s1", signer, createdAt: 0, ingest: ["i1"] };
    const s2: StreamRow = { streamId: "s2", signer: "0xbb", createdAt: 0, ingest: ["i1"] };
    const ingest = node("i1", {
      ingest: true,
      load: [
        { streamId: "s1", upstream: null, liveEdgeSeq: 3, viewers: 0 },
        { streamId: "s2", upstream: null, liveEdgeSeq: 3, viewers: 0 },
      ],
    });
    const trees = [s1, s2].map((s) => ({ stream: s, assignments: [] }));
    const carry = (streams: string[]) =>
      tree.streamsToCarry(
        node("r", { streams }),
        trees,
        [ingest, node("r", { streams })],
        NOW,
        TIMEOUT,
        DEMAND,
      );
    expect(carry([])).toEqual(["s1", "s2"]);
    expect(carry([signer])).toEqual(["s1"]);
    expect(carry(["s2"])).toEqual(["s2"]);
    expect(carry(["nobody"])).toEqual([]);
  });
});
