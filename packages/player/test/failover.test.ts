import { AllNodesFailed, AttemptError, fetchWithFailover, NodePool, type PoolNode } from "@streamrp2p/player";
import { describe, expect, it } from "vitest";

const nodes: PoolNode[] = [
  { nodeId: "a", url: "http://a", score: 3 },
  { nodeId: "b", url: "http://b", score: 2 },
  { nodeId: "c", url: "http://c", score: 1 },
];

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("NodePool", () => {
  it("orders by rank, keeps the serving node first, and tries penalized nodes last rather than never", () => {
    const c = clock();
    const pool = new NodePool(nodes, c.now);
    expect(pool.order().map((n) => n.nodeId)).toEqual(["a", "b", "c"]);
    pool.served("b");
    expect(pool.order().map((n) => n.nodeId)).toEqual(["b", "a", "c"]); // sticky: receipts go to one node
    pool.penalize("b", "network", 10_000);
    pool.penalize("a", "timeout", 5_000);
    expect(pool.order().map((n) => n.nodeId)).toEqual(["c", "a", "b"]); // soonest forgiven first
  });

  it("forgives after the penalty, and punishes tampering three times as long", () => {
    const c = clock();
    const pool = new NodePool(nodes, c.now);
    pool.penalize("a", "network", 1_000);
    pool.penalize("b", "tampered", 1_000);
    c.advance(1_001);
    expect(pool.isPenalized("a")).toBe(false);
    expect(pool.isPenalized("b")).toBe(true);
    c.advance(2_000);
    expect(pool.isPenalized("b")).toBe(false);
  });

  it("reports a switch only when a different node serves", () => {
    const pool = new NodePool(nodes);
    expect(pool.served("a")).toBe(false); // the first node is not a switch
    expect(pool.served("a")).toBe(false);
    pool.penalize("a", "network", 1_000);
    expect(pool.served("b")).toBe(true);
  });

  it("a success from a node caught tampering (a request in flight before the lie) does not bring it back", () => {
    const c = clock();
    const pool = new NodePool(nodes, c.now);
    pool.served("a");
    pool.penalize("a", "tampered", 1_000);
    expect(pool.served("b")).toBe(true);
    expect(pool.served("a")).toBe(false); // the blocking reload started on "a" before its lie answers now
    expect(pool.current?.nodeId).toBe("b");
    expect(pool.order().map((n) => n.nodeId)).toEqual(["b", "c", "a"]);
    pool.penalize("c", "timeout", 1_000);
    pool.served("c"); // any other failure is forgiven by the next success
    expect(pool.isPenalized("c")).toBe(false);
    c.advance(3_001);
    expect(pool.served("a")).toBe(true); // the penalty served, "a" may serve again
  });

  it("keeps penalties across a new ranking from the coordinator", () => {
    const pool = new NodePool(nodes);
    pool.penalize("a", "tampered", 60_000);
    pool.replace([...nodes, { nodeId: "d", url: "http://d", score: 10 }]);
    expect(pool.order().map((n) => n.nodeId)).toEqual(["d", "b", "c", "a"]);
  });
});

describe("fetchWithFailover", () => {
  it("returns the first success and penalizes every node that failed before it", async () => {
    const pool = new NodePool(nodes);
    const tried: string[] = [];
    const r = await fetchWithFailover(
      pool,
      async (n) => {
        tried.push(n.nodeId);
        if (n.nodeId === "a") throw new AttemptError("network", "refused");
        if (n.nodeId === "b") throw new AttemptError("tampered", "bad hash");
        return n.nodeId;
      },
      { penaltyMs: 1_000 },
    );
    expect(r.value).toBe("c");
    expect(tried).toEqual(["a", "b", "c"]);
    expect(r.failures.map((f) => f.kind)).toEqual(["network", "tampered"]);
    expect(pool.isPenalized("a") && pool.isPenalized("b") && !pool.isPenalized("c")).toBe(true);
  });

  it("fails only when every node failed, naming each failure", async () => {
    const pool = new NodePool(nodes);
    const err = await fetchWithFailover(
      pool,
      async () => Promise.reject(new AttemptError("http", "HTTP 404")),
      { penaltyMs: 1 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AllNodesFailed);
    expect((err as AllNodesFailed).failures.map((f) => f.nodeId)).toEqual(["a", "b", "c"]);
  });

  it("stops at once when aborted (hls.js abort), without penalizing anyone", async () => {
    const pool = new NodePool(nodes);
    const controller = new AbortController();
    const err = await fetchWithFailover(
      pool,
      async () => {
        controller.abort();
        throw new AttemptError("network", "aborted mid-request");
      },
      { penaltyMs: 1_000, signal: controller.signal },
    ).catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(pool.isPenalized("a")).toBe(false);
  });
});
