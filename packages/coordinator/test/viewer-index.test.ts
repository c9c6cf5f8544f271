import type { NodeRow } from "@streamrp2p/coordinator";
import { describe, expect, it } from "vitest";
import { UNPROVEN_CAPACITY_BPS } from "../src/routing/capacity.ts";
import { areaOf, regionOfAddress, regionOfCountry } from "../src/routing/geo.ts";
import { MIN_CANDIDATES } from "../src/routing/pick.ts";
import { type ViewerCandidate, ViewerIndex, type ViewerQuery } from "../src/routing/viewer-index.ts";
import type { NodeStanding } from "../src/routing.ts";

const TIMEOUT = 6_000; // ms
const STREAM = { streamId: "s", ingest: ["i1", "i2"] };

/** A seeded PRNG (mulberry32): the index's randomness, reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function harness(seed = 1) {
  const h = {
    t: 1_000_000,
    standing: new Map<string, Partial<NodeStanding>>(),
    operators: new Map<string, string>(),
    ledger: undefined as number | undefined,
    index: undefined as unknown as ViewerIndex,
    /** A healthy relay holding stream s, heard from now. */
    node(id: string, extra: Partial<NodeRow> = {}): NodeRow {
      return {
        nodeId: id,
        url: `http://${id}`,
        region: "eu-west",
        capacityMbps: 1_000,
        ingest: false,
        streams: [],
        tokenHash: "",
        registeredAt: 0,
        lastHeartbeatAt: h.t,
        connections: 0,
        egressBps: 0,
        bytesServed: 0,
        load: [{ streamId: "s", upstream: "x", liveEdgeSeq: 10, viewers: 0 }],
        draining: false,
        ...extra,
      };
    },
    add(...rows: NodeRow[]) {
      for (const r of rows) h.index.update(r);
    },
    ask(q: Partial<ViewerQuery> = {}): ViewerCandidate[] {
      return h.index.candidates({ stream: STREAM, region: "eu-west", assign: false, ...q });
    },
    ids(q: Partial<ViewerQuery> = {}): string[] {
      return h.ask(q).map((c) => c.nodeId);
    },
  };
  h.index = new ViewerIndex(
    {
      now: () => h.t,
      random: seeded(seed),
      standing: (id) => ({ quality: 1, tampered: false, suspect: false, ...h.standing.get(id) }),
      operatorOf: (id) => h.operators.get(id) ?? id,
      ledgerEdge: () => h.ledger,
    },
    { nodeTimeoutMs: TIMEOUT, candidates: 5, ingestCutoff: 3 },
  );
  return h;
}

describe("viewer index: region", () => {
  it("prefers the viewer's region, then its area, then elsewhere, and says so", () => {
    const h = harness();
    h.add(h.node("far", { region: "us-east" }), h.node("near", { region: "eu-central" }), h.node("same"));
    const c = h.ask();
    expect(c.map((x) => x.nodeId)).toEqual(["same", "near", "far"]);
    expect(c.map((x) => x.reasons[0])).toEqual(["same-region", "near-region", "other-region"]);
    expect(c[0]?.reasons).toEqual(["same-region", "spare 100%", "quality 1.00"]);
    expect(h.ids({ region: "us-east" })[0]).toBe("far");
    expect(h.ask({ region: undefined })[0]?.reasons[0]).toBe("viewer-region-unknown");
  });

  it("maps addresses and countries to the region vocabulary; loopback and private say nothing", () => {
    expect(regionOfAddress("81.2.69.160")).toBe("eu-west"); // GB
    expect(regionOfAddress("::ffff:81.2.69.160")).toBe("eu-west");
    expect(regionOfAddress("8.8.8.8")).toBe("us-east");
    for (const a of ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.7", "not an address", undefined])
      expect(regionOfAddress(a)).toBeUndefined();
    expect(regionOfCountry("DE", "EU")).toBe("eu-central");
    expect(regionOfCountry("KE", "AF")).toBe("af-south");
    expect(regionOfCountry("XX")).toBeUndefined();
    expect(areaOf("us-east")).toBe(areaOf("us-west"));
    expect(areaOf("eu-west")).not.toBe(areaOf("us-east"));
  });
});

describe("viewer index: capacity", () => {
  it("does not offer a full node while others have spare; tops the list up with it otherwise", () => {
    const h = harness();
    h.add(h.node("full", { capacityMbps: 100, egressBps: 100e6 }), h.node("a"), h.node("b"), h.node("c"));
    expect(h.ids()).not.toContain("full");
    h.index.remove("c");
    const c = h.ask();
    expect(
      c
        .map((x) => x.nodeId)
        .slice(0, 2)
        .sort(),
    ).toEqual(["a", "b"]);
    expect(c[2]?.nodeId).toBe("full");
    expect(c[2]?.reasons).toContain("full");
    expect(c).toHaveLength(MIN_CANDIDATES);
  });

  it("believes declared capacity only up to what heartbeats have shown", () => {
    const h = harness();
    // Declares 10 Gbit/s, has shown 150 Mbit/s: believed to carry 300 Mbit/s, so half full.
    h.add(h.node("boast", { capacityMbps: 10_000, egressBps: 150e6, connections: 30 }), h.node("modest"));
    const c = h.ask();
    expect(c.map((x) => x.nodeId)).toEqual(["modest", "boast"]);
    expect(c[1]?.reasons).toContain("spare 50%");
    // A node that has shown nothing yet gets the slow-start share, not its claim.
    h.add(h.node("new", { capacityMbps: 10_000, connections: (UNPROVEN_CAPACITY_BPS / 500_000) * 0.9 }));
    expect(h.ask().find((x) => x.nodeId === "new")?.reasons).toContain("spare 10%");
  });

  it("counts viewers sent to a node until its next heartbeat, so tickets run it full", () => {
    const h = harness();
    const only = h.node("only", { capacityMbps: 100 });
    h.add(only);
    let tickets = 0;
    while (!h.ask({ assign: true })[0]?.reasons.includes("full") && tickets < 1_000) tickets++;
    // 100 Mbit/s at the default 3 Mbit/s per viewer.
    expect(tickets).toBe(34);
    h.t += 2_000;
    h.add({ ...only, lastHeartbeatAt: h.t, connections: 1, egressBps: 3e6 });
    expect(h.ask()[0]?.reasons).toContain("spare 97%");
  });
});

describe("viewer index: reputation", () => {
  it("orders equal nodes by quality, demotes suspects and never offers a proven tamperer", () => {
    const h = harness();
    h.standing.set("good", { quality: 0.9 });
    h.standing.set("fair", { quality: 0.5 });
    h.standing.set("poor", { quality: 0.1 });
    h.add(h.node("poor"), h.node("good"), h.node("fair"));
    expect(h.ids()).toEqual(["good", "fair", "poor"]);
    expect(h.ask()[0]?.reasons).toContain("quality 0.90");
    h.standing.set("good", { quality: 0.9, suspect: true });
    expect(h.ids()).toEqual(["fair", "poor", "good"]);
    expect(h.ask()[2]?.reasons).toContain("suspect");
    // Evidence arriving between heartbeats counts at once.
    h.standing.set("fair", { quality: 0, tampered: true });
    expect(h.ids()).toEqual(["poor", "good"]);
  });
});

describe("viewer index: operators", () => {
  it("never offers two nodes of one operator while other operators have nodes", () => {
    const h = harness();
    for (const id of ["a1", "a2", "a3", "a4"]) h.operators.set(id, "A");
    h.add(
      ...["a1", "a2", "a3", "a4"].map((id) => h.node(id)),
      h.node("b", { region: "eu-central" }),
      h.node("c", { region: "us-east" }),
    );
    const c = h.ask();
    expect(c).toHaveLength(5);
    expect(c.slice(0, 3).map((x) => h.operators.get(x.nodeId) ?? x.nodeId)).toEqual(["A", "b", "c"]);
    expect(c[3]?.reasons).toContain("same-operator");
  });

  it("samples operators before nodes: a thousand nodes of one operator do not crowd out another", () => {
    const h = harness();
    for (let i = 0; i < 1_000; i++) {
      h.operators.set(`s${i}`, "sybil");
      h.add(h.node(`s${i}`));
    }
    h.add(h.node("honest"));
    for (let i = 0; i < 20; i++) expect(h.ids().slice(0, 2)).toContain("honest");
  });
});

describe("viewer index: failures", () => {
  it("drops a node that went silent, drains, is removed, or stops holding the stream", () => {
    const h = harness();
    const rows = ["a", "b", "c", "d", "e"].map((id) => h.node(id));
    h.add(...rows);
    expect(h.ids().sort()).toEqual(["a", "b", "c", "d", "e"]);
    h.t += TIMEOUT / 2;
    for (const r of rows.slice(1)) h.add({ ...r, lastHeartbeatAt: h.t });
    h.t += TIMEOUT / 2 + 1; // a's last heartbeat is now older than the timeout
    expect(h.ids()).not.toContain("a");
    expect(h.index.size).toBe(4); // dropped, not just skipped
    h.add({ ...(rows[1] as NodeRow), lastHeartbeatAt: h.t, draining: true });
    h.index.remove("c");
    h.add({ ...(rows[3] as NodeRow), lastHeartbeatAt: h.t, load: [] });
    expect(h.ids()).toEqual(["e"]);
    // A row older than the one indexed (a replica's late read) changes nothing.
    h.add({ ...(rows[4] as NodeRow), lastHeartbeatAt: h.t - TIMEOUT - 1 });
    expect(h.ids()).toEqual(["e"]);
  });

  it("does not believe a live edge claimed beyond the stream's ledger", () => {
    const h = harness();
    h.add(
      h.node("honest"),
      h.node("liar", { load: [{ streamId: "s", upstream: "x", liveEdgeSeq: 1e6, viewers: 0 }] }),
    );
    h.ledger = 10;
    expect(h.ids()).toEqual(["honest"]);
  });
});

describe("viewer index: the relay tree", () => {
  it("offers ingest relays (last) only until enough other relays hold the stream", () => {
    const h = harness();
    const ingest = (id: string) =>
      h.node(id, { ingest: true, load: [{ streamId: "s", upstream: null, liveEdgeSeq: 10, viewers: 0 }] });
    h.add(ingest("i1"), ingest("i2"), h.node("r1"), h.node("r2"));
    const shallow = h.ask();
    expect(
      shallow
        .slice(0, 2)
        .map((x) => x.nodeId)
        .sort(),
    ).toEqual(["r1", "r2"]);
    expect(
      shallow
        .slice(2)
        .map((x) => x.nodeId)
        .sort(),
    ).toEqual(["i1", "i2"]);
    expect(shallow[2]?.reasons).toContain("ingest");
    h.add(h.node("r3"));
    expect(h.ids().sort()).toEqual(["r1", "r2", "r3"]);
  });
});

describe("viewer index: spreading load", () => {
  it("spreads first choices over comparable nodes instead of herding on the best", () => {
    const h = harness(42);
    for (let i = 0; i < 10; i++) h.add(h.node(`n${i}`, { egressBps: i * 1e6 })); // spare 100%…99.1%
    const firsts = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      const first = h.ids()[0] as string;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    expect(firsts.size).toBe(10);
    expect(Math.max(...firsts.values())).toBeLessThan(100); // 50 each on average
  });

  it("keeps scores strictly decreasing in the order given (the player sorts by score)", () => {
    const h = harness(7);
    for (let i = 0; i < 8; i++) h.add(h.node(`n${i}`));
    for (let i = 0; i < 50; i++) {
      const scores = h.ask().map((c) => c.score);
      expect(scores).toHaveLength(5);
      for (let j = 1; j < scores.length; j++) expect(scores[j]).toBeLessThan(scores[j - 1] as number);
    }
  });
});
