import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

describe("`streamrp2p deploy --local 3` brings three node processes into a running network", () => {
  let live: LiveTestNetwork;
  let deploy: ChildProcess | undefined;
  const viewers: SimulatedViewer[] = [];

  beforeAll(async () => {
    live = await startLiveTestNetwork("deploy-local", { probeIntervalMs: 0 });
  }, 60_000);
  afterAll(async () => {
    deploy?.kill("SIGKILL");
    for (const v of viewers) await v.stop();
    await live?.stop();
  });

  it("starts 3 processes that carry the stream and serve viewers, and stops them all on Ctrl-C", async () => {
    const { net } = live;
    const dataDir = join(tempDir("deploy-local"), "nodes");
    deploy = spawn(
      process.execPath,
      [
        "packages/cli/bin/streamrp2p.js",
        "deploy",
        "--local",
        "3",
        "--coordinator",
        net.coordinator.url,
        "--port-base",
        "0",
        "--data-dir",
        dataDir,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    deploy.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => deploy?.once("exit", (code) => resolve(code)));
    await waitUntil("3 nodes up", () => stdout.includes("3 nodes up") || undefined, 60_000);
    const ids = [...stdout.matchAll(/node \d\/3 (0x[0-9a-f]{40}) at (http\S+)/g)].map((m) => m[1] as string);
    expect(new Set(ids).size).toBe(3);
    expect(net.relays.map((r) => r.nodeId)).not.toEqual(expect.arrayContaining(ids));

    const client = new CoordinatorClient({ baseUrl: net.coordinator.url });
    await waitUntil(
      "all three to carry the stream",
      async () => {
        const ranked = (await client.rankedNodes(net.streamId)).nodes.map((n) => n.nodeId);
        return ids.every((id) => ranked.includes(id as `0x${string}`)) || undefined;
      },
      30_000,
    );
    for (const id of ids) viewers.push(await SimulatedViewer.start(net.coordinator.url, net.streamId, id));
    await waitUntil(
      "each node to serve its viewer",
      () => viewers.every((v) => v.loadedSegments >= 3) || undefined,
      30_000,
    );
    for (const [i, v] of viewers.entries())
      expect(v.session.receiptTotals()[ids[i] as string]).toBeGreaterThan(0);
    for (const v of viewers.splice(0)) await v.stop();

    deploy.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stdout).toContain("all nodes stopped");
    const nodes = (await (await fetch(`${net.coordinator.url}/v1/nodes`)).json()) as {
      nodes: Array<{ nodeId: string; draining: boolean }>;
    };
    for (const id of ids) expect(nodes.nodes.find((n) => n.nodeId === id)?.draining).toBe(true);
  }, 120_000);
});
