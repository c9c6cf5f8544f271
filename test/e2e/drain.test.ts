import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { createLogger } from "@streamrp2p/service";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

const run = promisify(execFile);
const CLI = "packages/cli/bin/streamrp2p.js";

describe("graceful drain while viewers watch", () => {
  let live: LiveTestNetwork;
  let node: ChildProcess | undefined;
  let child: Relay | undefined;
  const viewers: SimulatedViewer[] = [];

  beforeAll(async () => {
    live = await startLiveTestNetwork("drain", { receiptSubmitIntervalMs: 500, probeIntervalMs: 0 });
  }, 60_000);
  afterAll(async () => {
    node?.kill("SIGKILL");
    for (const v of viewers) await v.stop();
    await child?.stop();
    await live?.stop();
  });

  it("a node started from a generated config, on SIGTERM: moves viewers and child relays, submits the last receipts, loses nothing, exits 0", async () => {
    const { net } = live;
    const dir = tempDir("drain-node");
    const config = join(dir, "relay.yaml");
    // 1. Generate the config the way an operator would, then start from it alone.
    await run(process.execPath, [
      CLI,
      "relay",
      "--write-config",
      config,
      "--coordinator",
      net.coordinator.url,
      "--port",
      "0",
      "--data-dir",
      join(dir, "data"),
      "--heartbeat-interval-ms",
      "500",
      "--receipt-submit-interval-ms",
      "500",
      "--drain-grace-ms",
      "3000",
    ]);
    const written = parseYaml(readFileSync(config, "utf8")) as Record<string, unknown>;
    expect(written).toMatchObject({ coordinator: [net.coordinator.url], port: 0, drainGraceMs: 3000 });

    node = spawn(process.execPath, [CLI, "relay", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    node.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    node.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => node?.once("exit", (code) => resolve(code)));
    const [, nodeId, url] = await waitUntil(
      "the node to print its address and URL",
      () => /relay (0x[0-9a-fA-F]{40}) \(new key in .*\) serving at (http:\S+)/.exec(stdout) ?? undefined,
      15_000,
    );
    const cliNode = (nodeId as string).toLowerCase() as `0x${string}`;
    expect(readFileSync(join(dir, "data", "node.key"), "utf8")).toMatch(/^0x[0-9a-f]{64}\n$/);
    expect(stdout + stderr).not.toContain(readFileSync(join(dir, "data", "node.key"), "utf8").trim());

    const client = new CoordinatorClient({ baseUrl: net.coordinator.url });
    await waitUntil(
      "the node to carry the stream",
      async () =>
        (await client.rankedNodes(net.streamId)).nodes.some((n) => n.nodeId === cliNode) || undefined,
      20_000,
    );

    // 2. A child relay pulling from the node, and viewers watching it (with others to fail over to).
    child = createRelay(
      { heartbeatIntervalMs: 500 },
      {
        account: privateKeyToAccount(generatePrivateKey()),
        log: createLogger("child", { write: () => {} }),
        coordinator: client,
        resolver: {
          async resolve(streamId, exclude) {
            if (!exclude.includes(cliNode)) return { nodeId: cliNode, url: url as string, region: "local" };
            const me = child as Relay;
            return (await client.assignUpstream(me.coordinatorToken ?? "", streamId, me.nodeId, [...exclude]))
              .upstream;
          },
        },
      },
    );
    await child.start();
    const childStream = await waitUntil(
      "the child to pull from the node",
      () => {
        const s = child?.stream(net.streamId);
        return s && s.source === cliNode && s.liveEdgeSeq >= 0 ? s : undefined;
      },
      20_000,
    );
    // A fresh process answers its first requests slowly (JIT, key tables); warm it as a browser would not.
    for (let i = 0; i < 3; i++) await (await fetch(`${url}/live/${net.streamId}/index.m3u8`)).text();
    for (let i = 0; i < 3; i++)
      viewers.push(await SimulatedViewer.start(net.coordinator.url, net.streamId, undefined, cliNode));
    await waitUntil(
      "viewers to be served by the node",
      () =>
        viewers.every((v) => v.session.pool.current?.nodeId === cliNode && v.loadedSegments >= 3) ||
        undefined,
      20_000,
    ).catch((err: unknown) => {
      throw new Error(
        `${stderr
          .split("\n")
          .filter((l) => !l.includes('"level":"debug"'))
          .join(
            "\n",
          )}\n${String(err)}: ${JSON.stringify(viewers.map((v) => ({ ...v.session.stats, loaded: v.loadedSegments, order: v.session.pool.order().map((n) => n.nodeId) })))} node ${cliNode}`,
      );
    });

    // 3. SIGTERM.
    const segmentsBefore = viewers.map((v) => v.loadedSegments);
    const childEdgeBefore = childStream.liveEdgeSeq;
    const killedAt = Date.now();
    node.kill("SIGTERM");
    expect(await exited, `node output:\n${stdout}\n${stderr}`).toBe(0);
    const drainMs = Date.now() - killedAt;
    expect(drainMs).toBeGreaterThanOrEqual(3_000); // it waited its grace
    expect(drainMs).toBeLessThan(15_000);
    expect(stderr).toContain('"msg":"draining"');

    // 4. Viewers and the child moved on without a gap.
    await waitUntil(
      "viewers and the child to advance after the drain",
      () =>
        (viewers.every((v, i) => v.loadedSegments >= (segmentsBefore[i] ?? 0) + 3) &&
          childStream.liveEdgeSeq >= childEdgeBefore + 3) ||
        undefined,
      20_000,
    );
    for (const v of viewers) {
      expect(v.session.pool.current?.nodeId).not.toBe(cliNode);
      expect(v.skippedSegments).toBe(0);
      expect(v.failedTicks).toBe(0);
    }
    expect(childStream.source).not.toBe(cliNode);

    // 5. The coordinator knows it left, routes nobody to it, and holds every byte the viewers receipted.
    const nodes = (await (await fetch(`${net.coordinator.url}/v1/nodes`)).json()) as {
      nodes: Array<{ nodeId: string; draining: boolean; healthy: boolean }>;
    };
    expect(nodes.nodes.find((n) => n.nodeId === cliNode)).toMatchObject({ draining: true, healthy: false });
    expect((await client.rankedNodes(net.streamId)).nodes.map((n) => n.nodeId)).not.toContain(cliNode);
    const status = await client.nodeStatus(cliNode);
    const receivedFromNode = viewers.reduce((n, v) => n + (v.session.receiptTotals()[cliNode] ?? 0), 0);
    expect(receivedFromNode).toBeGreaterThan(100_000);
    expect(status.receipts.sessions).toBe(3);
    expect(status.receipts.bytes).toBe(receivedFromNode);
  }, 120_000);

  it("drains an ingest relay: the origin keeps publishing through the other, its viewers and children move", async () => {
    const { net } = live;
    const [ingest, otherIngest, puller] = net.relays as [Relay, Relay, Relay];
    const watching = [
      await SimulatedViewer.start(net.coordinator.url, net.streamId, undefined, ingest.nodeId),
      await SimulatedViewer.start(net.coordinator.url, net.streamId, undefined, ingest.nodeId),
    ];
    viewers.push(...watching);
    await waitUntil(
      "viewers on the ingest relay",
      () =>
        watching.every((v) => v.session.pool.current?.nodeId === ingest.nodeId && v.loadedSegments >= 3) ||
        undefined,
      20_000,
    );
    const before = watching.map((v) => v.loadedSegments);
    const edge = (r: Relay) => r.stream(net.streamId)?.liveEdgeSeq ?? -1;
    const pullerEdge = edge(puller);
    await ingest.drain();
    expect(ingest.draining).toBe(true);
    await waitUntil(
      "the stream to go on without the drained ingest relay",
      () =>
        (watching.every((v, i) => v.loadedSegments >= (before[i] ?? 0) + 3) &&
          edge(puller) >= pullerEdge + 3) ||
        undefined,
      20_000,
    );
    for (const v of watching) {
      expect(v.session.pool.current?.nodeId).not.toBe(ingest.nodeId);
      expect(v.skippedSegments).toBe(0);
      expect(v.failedTicks).toBe(0);
    }
    const info = await new CoordinatorClient({ baseUrl: net.coordinator.url }).getStream(net.streamId);
    expect(info.ingest.map((n) => n.nodeId)).toEqual([otherIngest.nodeId]);
    expect(puller.stream(net.streamId)?.source).not.toBe(ingest.nodeId);
  }, 60_000);
});
