import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { distributorAbi } from "@streamrp2p/chain";
import { type DevEconomy, startDevEconomy, startTestSource } from "@streamrp2p/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, type PostgresServer, startPostgres } from "../support/postgres-server.ts";
import {
  type ServiceProcess,
  startCli,
  startOriginProcess,
  startRelayProcess,
} from "../support/processes.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 12's acceptance: two coordinator processes on one real PostgreSQL,
 * settling on a real EVM (anvil); a live stream through an ingest relay and a
 * pulling relay, a viewer given both coordinators. The replica that leads
 * (closes and settles epochs) is killed with `kill -9` mid-stream: the viewer
 * keeps playing, the other replica takes over epochs and settles them on-chain,
 * no epoch is closed twice or skipped, and every byte the viewer receipted is
 * stored.
 */
const EPOCH_MS = 4_000;
const LEASE_TTL_MS = 3_000;

interface NodeRow {
  nodeId: string;
  load: Array<{ streamId: string; liveEdgeSeq: number }>;
}

const getJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
};
const nodeIdOf = (p: ServiceProcess) => {
  const id = /relay (0x[0-9a-fA-F]{40})/.exec(p.output())?.[1];
  if (!id) throw new Error(`${p.name} printed no node id:\n${p.output()}`);
  return id.toLowerCase();
};
const epochsClosedBy = (p: ServiceProcess) =>
  p
    .output()
    .split("\n")
    .filter((l) => l.includes('"msg":"epoch closed"'))
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);

describe("two coordinator replicas on PostgreSQL, the leader killed mid-stream", () => {
  let pg: PostgresServer;
  let economy: DevEconomy;
  const procs: ServiceProcess[] = [];
  let source: ChildProcess | undefined;

  beforeAll(async () => {
    requireFfmpeg();
    pg = await startPostgres();
    economy = await startDevEconomy({
      epochMs: EPOCH_MS,
      disputeWindowSeconds: 1,
      poolFunding: 1_000,
      epochBudget: 10,
      nodeStake: 1_000,
    });
  }, 90_000);
  afterAll(async () => {
    source?.kill("SIGKILL");
    for (const p of procs) await p.stop();
    await economy?.stop();
    await pg?.stop();
  });

  it("keeps the viewer playing, settles through the survivor, closes every epoch once and loses no receipt", async () => {
    const dir = tempDir("replicas-mid-stream");
    const db = await freshDatabase(pg.url, "midstream");
    writeFileSync(join(dir, "settler.key"), `${economy.keyOf("settler")}\n`, { mode: 0o600 });
    const s = economy.settlement;
    writeFileSync(
      join(dir, "settlement.json"),
      JSON.stringify({
        rpcUrl: s.rpcUrl,
        chainId: s.chainId,
        deployment: s.deployment,
        settlerKeyFile: "settler.key",
      }),
    );
    const replica = (name: string) =>
      startCli(
        `coordinator-${name}`,
        [
          "coordinator",
          "--port",
          "0",
          "--postgres",
          db,
          "--data-dir",
          join(dir, name),
          "--ticket-key",
          join(dir, "ticket.key"),
          "--replica-id",
          name,
          "--epoch-ms",
          String(EPOCH_MS),
          "--lease-ttl-ms",
          String(LEASE_TTL_MS),
          "--settlement",
          join(dir, "settlement.json"),
        ],
        /coordinator at (http:\/\/[0-9.:]+)/,
      );
    const a = await replica("a");
    procs.push(a);
    const b = await replica("b");
    procs.push(b);
    const both = `${a.url},${b.url}`;

    const streamId = "midstream";
    const keyDir = join(dir, "origin");
    const origin = await startOriginProcess(both, streamId, keyDir);
    procs.push(origin);
    await economy.createPool(
      streamId,
      readFileSync(join(keyDir, `${streamId}.signing.key`), "utf8").trim() as `0x${string}`,
    );
    const fast = ["--heartbeat-interval-ms", "500", "--receipt-submit-interval-ms", "500"];
    const ingest = await startRelayProcess("ingest", both, dir, { ingest: true, args: fast });
    procs.push(ingest);
    const puller = await startRelayProcess("puller", both, dir, { args: fast });
    procs.push(puller);
    for (const r of ["ingest", "puller"]) {
      await economy.registerNode(readFileSync(join(dir, r, "node.key"), "utf8").trim() as `0x${string}`);
    }
    const pullerId = nodeIdOf(puller);
    const streamKey = readFileSync(join(keyDir, `${streamId}.stream-key`), "utf8").trim();
    source = startTestSource({ url: `${origin.url}/${streamKey}` });
    await waitUntil(
      "the pulling relay to hold the stream",
      async () => {
        const nodes = (await getJson<{ nodes: NodeRow[] }>(`${b.url}/v1/nodes`)).nodes;
        const edge = nodes
          .find((n) => n.nodeId === pullerId)
          ?.load.find((l) => l.streamId === streamId)?.liveEdgeSeq;
        return (edge ?? -1) >= 2 || undefined;
      },
      45_000,
      250,
    );

    const viewer = await SimulatedViewer.start([a.url, b.url], streamId, pullerId);
    const latestOnChain = async () =>
      Number(
        await economy.client.readContract({
          address: economy.deployment.distributor,
          abi: distributorAbi,
          functionName: "latestEpoch",
        }),
      );
    const rootsBefore = await latestOnChain();
    await waitUntil(
      "a root on-chain",
      async () => ((await latestOnChain()) > rootsBefore ? true : undefined),
      30_000,
      250,
    );

    const leader = [a, b].find((p) => epochsClosedBy(p).length > 0);
    if (!leader) throw new Error("no replica closed an epoch");
    const survivor = leader === a ? b : a;
    const loadedAtKill = viewer.loadedSegments;
    const skippedAtKill = viewer.skippedSegments;
    const rootAtKill = await latestOnChain();
    const gone = new Promise((r) => leader.proc.once("exit", r));
    leader.proc.kill("SIGKILL");
    await gone;
    const killedAt = Date.now();

    // The survivor takes the lease when it expires, closes the next epochs and posts their roots.
    await waitUntil(
      "two more roots on-chain, posted by the survivor",
      async () => ((await latestOnChain()) >= rootAtKill + 2 ? true : undefined),
      LEASE_TTL_MS + 6 * EPOCH_MS + 20_000,
      250,
    );
    expect(survivor.output()).toContain('"msg":"epoch root posted"');
    const takeoverMs = Date.now() - killedAt;

    // The viewer never noticed: it kept loading segments with no gap.
    expect(viewer.loadedSegments).toBeGreaterThan(loadedAtKill + 3);
    expect(viewer.skippedSegments).toBe(skippedAtKill);
    expect(viewer.skippedSegments).toBe(0);

    // Every epoch closed exactly once, none skipped, all readable at the survivor.
    const closed = [...epochsClosedBy(a), ...epochsClosedBy(b)].sort((x, y) => x - y);
    expect(new Set(closed).size, `closed twice: ${closed.join(",")}`).toBe(closed.length);
    for (let i = 1; i < closed.length; i++) expect(closed[i]).toBe((closed[i - 1] as number) + 1);
    for (const e of closed) expect((await fetch(`${survivor.url}/v1/epochs/${e}`)).status).toBe(200);

    // Every byte the viewer receipted to the relay is stored (the viewer's last receipts go
    // to the relay on close; the relay submits them to whichever replica answers).
    await viewer.stop();
    const receipted = viewer.session.receiptTotals()[pullerId] ?? 0;
    expect(receipted).toBeGreaterThan(0);
    await waitUntil(
      "the viewer's last receipt stored",
      async () => {
        const st = await getJson<{ receipts: { bytes: number } }>(
          `${survivor.url}/v1/nodes/${pullerId}/status`,
        );
        return st.receipts.bytes === receipted || undefined;
      },
      15_000,
      250,
    );
    process.stdout.write(
      `[replicas] leader killed; survivor posted 2 roots in ${takeoverMs} ms; viewer loaded ${viewer.loadedSegments} segments, skipped 0; ${closed.length} epochs closed once; ${receipted} receipted bytes stored\n`,
    );
  }, 180_000);
});
