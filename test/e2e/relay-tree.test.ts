import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  childrenOf,
  depthOf,
  relayEdge,
  startTreeNetwork,
  type TreeNetwork,
  type TreeNode,
  type TreeRelay,
  treeNodes,
} from "../support/relay-tree.ts";
import { waitUntil } from "../support/tools.ts";

const RELAYS = 12;
const INGEST = 2;
const FAN_OUT = 3;
/** 2 ingest relays feed 6, those feed the last 4: the shallowest tree fan-out 3 allows. */
const EXPECTED_DEPTH = 3;
/** A relay within this many segments of the newest any relay holds is at the live edge. */
const AT_EDGE = 1;
/** Children of a dead or frozen relay must be fed again within this (ms). */
const HEAL_MS = 10_000;

describe("the relay tree: 12 relay processes, fan-out 3", () => {
  let net: TreeNetwork;
  const log = (line: string) => process.stdout.write(`[relay-tree] ${line}\n`);

  beforeAll(async () => {
    net = await startTreeNetwork("relay-tree", {
      relays: RELAYS,
      ingest: INGEST,
      maxChildren: FAN_OUT,
      heartbeatIntervalMs: 1_000,
      startConcurrency: 5,
      onProgress: log,
    });
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  /** Relays (not in `out`) whose own window is within AT_EDGE of the newest: all of them, or undefined. */
  async function allAtEdge(out: ReadonlySet<string> = new Set()): Promise<Map<string, number> | undefined> {
    const live = net.relays.filter((r) => !out.has(r.nodeId));
    const nodes = await treeNodes(net.coordinator.url, net.streamId);
    const edges = await Promise.all(
      live.map(
        async (r) => [r.nodeId, await relayEdge(nodes.get(r.nodeId)?.url ?? "", net.streamId)] as const,
      ),
    );
    const newest = Math.max(...edges.map(([, e]) => e));
    return newest >= 0 && edges.every(([, e]) => e >= newest - AT_EDGE) ? new Map(edges) : undefined;
  }

  /** The tree once every live relay reports an unbroken chain to an ingest relay. */
  async function wholeTree(out: ReadonlySet<string> = new Set()): Promise<Map<string, TreeNode> | undefined> {
    const nodes = await treeNodes(net.coordinator.url, net.streamId);
    const live = net.relays.filter((r) => !out.has(r.nodeId));
    return live.every((r) => {
      const d = depthOf(nodes, r.nodeId);
      return d !== undefined && !out.has(nodes.get(r.nodeId)?.upstream ?? "");
    })
      ? nodes
      : undefined;
  }

  /** A depth-2 relay with children (not in `out`). */
  function midTree(
    nodes: Map<string, TreeNode>,
    out: ReadonlySet<string>,
  ): { relay: TreeRelay; children: string[] } {
    const children = childrenOf(nodes);
    for (const r of net.relays) {
      const kids = children.get(r.nodeId) ?? [];
      if (!out.has(r.nodeId) && depthOf(nodes, r.nodeId) === 2 && kids.length > 0)
        return { relay: r, children: kids };
    }
    throw new Error("no mid-tree relay with children");
  }

  it("grows to the expected depth with bounded fan-out; ingest relays feed only relays; every leaf at the live edge", async () => {
    const nodes = await waitUntil("all 12 relays in the tree", () => wholeTree(), 45_000);
    await waitUntil("every relay at the live edge", () => allAtEdge(), 20_000);
    const children = childrenOf(nodes);
    const depths = net.relays.map((r) => depthOf(nodes, r.nodeId) ?? -1);
    log(
      `depths ${depths.join(",")}; children ${net.relays.map((r) => children.get(r.nodeId)?.length ?? 0).join(",")}`,
    );
    expect(Math.max(...depths)).toBe(EXPECTED_DEPTH);
    for (const r of net.relays) expect(children.get(r.nodeId)?.length ?? 0).toBeLessThanOrEqual(FAN_OUT);
    for (const r of net.relays.filter((x) => x.ingest)) {
      expect(nodes.get(r.nodeId)?.upstream).toBeNull(); // pushed by the origin
      expect(children.get(r.nodeId)?.length).toBe(FAN_OUT);
      // Serving children only: window long-polls and objects, never a viewer's playlist or session.
      const metrics = await (await fetch(`${r.proc.url}/metrics`)).text();
      expect(metrics).not.toMatch(/srp_relay_requests_total\{kind="playlist"/);
      expect(metrics).toMatch(/srp_relay_requests_total\{kind="window",status="200"/);
      expect(nodes.get(r.nodeId)?.viewers).toBe(0);
    }
  }, 75_000);

  it("kill -9 of a mid-tree relay: its children re-parent and the subtree is back at the live edge within seconds", async () => {
    const out = new Set<string>();
    const before = await waitUntil("the whole tree", () => wholeTree(), 10_000);
    const { relay: victim, children } = midTree(before, out);
    const killedAt = Date.now();
    victim.proc.proc.kill("SIGKILL");
    out.add(victim.nodeId);
    const healed = await waitUntil("the subtree re-parented", () => wholeTree(out), HEAL_MS);
    await waitUntil("every live relay at the live edge", () => allAtEdge(out), HEAL_MS);
    log(`killed ${victim.name} (${children.length} children); healed in ${Date.now() - killedAt} ms`);
    for (const c of children) expect(healed.get(c)?.upstream).not.toBe(victim.nodeId);
    for (const [id, kids] of childrenOf(healed))
      if (!out.has(id)) expect(kids.length).toBeLessThanOrEqual(FAN_OUT);
  }, 30_000);

  it("SIGSTOP of a mid-tree relay (alive, frozen): its children re-parent within seconds", async () => {
    const out = new Set<string>(net.relays.filter((r) => r.proc.exited).map((r) => r.nodeId));
    const before = await waitUntil("the whole tree", () => wholeTree(out), 10_000);
    const { relay: frozen, children } = midTree(before, out);
    const frozenAt = Date.now();
    frozen.proc.proc.kill("SIGSTOP");
    out.add(frozen.nodeId);
    try {
      const healed = await waitUntil(
        "the frozen relay's children re-parented",
        () => wholeTree(out),
        HEAL_MS,
      );
      await waitUntil("every live relay at the live edge", () => allAtEdge(out), HEAL_MS);
      log(`froze ${frozen.name} (${children.length} children); healed in ${Date.now() - frozenAt} ms`);
      for (const c of children) expect(healed.get(c)?.upstream).not.toBe(frozen.nodeId);
    } finally {
      frozen.proc.proc.kill("SIGCONT");
    }
  }, 30_000);
});
