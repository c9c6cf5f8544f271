/**
 * The coordinator under `bench/route.ts`, in its own process (run it pinned to
 * one core): an in-memory SQLite store holding --nodes registered nodes and
 * --streams streams, a real coordinator over it, and a second HTTP server in
 * the same process answering the reference route: the list-and-score path the
 * coordinator used before the viewer index (every request lists all nodes
 * from the store and scores them). Prints one JSON line when ready.
 *
 * Setup writes rows through the store directly: 10,000 signed registrations
 * and heartbeats would only time secp256k1 recovery, not routing. The clock
 * is frozen at setup time (an injected `now`), so every node stays healthy
 * without 5,000 heartbeats a second competing with the requests measured.
 * The prober and the segment ledger are off: node URLs are placeholders.
 */
import { parseArgs } from "node:util";
import {
  COORDINATOR_DEFAULTS,
  createCoordinator,
  type NodeRow,
  routing,
  SqliteStore,
} from "@streamrp2p/coordinator";
import { generateEd25519, SrpError } from "@streamrp2p/protocol";
import { createMetricsRegistry, Router, sendJson, silentLogger, startHttpService } from "@streamrp2p/service";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    streams: { type: "string", default: "1000" },
    "streams-per-node": { type: "string", default: "3" },
  },
});
const nodeCount = Number(values.nodes);
const streamCount = Number(values.streams);
const perNode = Number(values["streams-per-node"]);
const REGIONS = [
  "eu-west",
  "eu-central",
  "eu-north",
  "us-east",
  "us-west",
  "ap-south",
  "ap-northeast",
  "sa-east",
];

/** Deterministic PRNG (mulberry32), so runs place the same nodes. */
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
const random = seeded(12);
const T0 = Date.now();
const now = () => T0;

// Stream popularity is Zipf-like: stream i is carried in proportion to 1/(i+1), so a few
// streams are held by thousands of nodes and most by a handful.
const weights = Array.from({ length: streamCount }, (_, i) => 1 / (i + 1));
const cumulative: number[] = [];
weights.reduce((sum, w, i) => {
  cumulative[i] = sum + w;
  return sum + w;
}, 0);
const total = cumulative[streamCount - 1] ?? 1;
function popularStream(): number {
  const x = random() * total;
  let lo = 0;
  let hi = streamCount - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const store = new SqliteStore(":memory:");
await store.migrate();
const nodeId = (i: number) => `0x${i.toString(16).padStart(40, "0")}`;
const ingestOf = (s: number) => [nodeId((2 * s) % nodeCount), nodeId((2 * s + 1) % nodeCount)];
for (let s = 0; s < streamCount; s++)
  await store.insertStream({
    streamId: `s${s}`,
    signer: `0x${"1".repeat(40)}`,
    createdAt: T0,
    ingest: ingestOf(s),
  });
for (let i = 0; i < nodeCount; i++) {
  const held = new Set<number>();
  if (i < 2 * streamCount) held.add(Math.floor(i / 2)); // the ingest relays hold their stream
  while (held.size < perNode) held.add(popularStream());
  const capacityMbps = [100, 1_000, 10_000][i % 3] as number;
  const row: NodeRow = {
    nodeId: nodeId(i),
    url: `http://127.0.0.1:1/n${i}`,
    region: REGIONS[Math.floor(random() * REGIONS.length)] as string,
    capacityMbps,
    ingest: i < 2 * streamCount,
    streams: [],
    tokenHash: "",
    registeredAt: T0,
    lastHeartbeatAt: T0,
    connections: Math.floor(random() * 50),
    egressBps: random() * 80e6,
    bytesServed: 0,
    load: [...held].map((s) => ({ streamId: `s${s}`, upstream: null, liveEdgeSeq: 100, viewers: 0 })),
    draining: false,
  };
  await store.upsertNode(row);
}

const coordinator = createCoordinator(
  {
    port: 0,
    dataDir: ":memory:",
    probeIntervalMs: 0,
    recordIntervalMs: 3_600_000,
    // One load generator address takes every ticket: the per-address budget would answer 429.
    ticketBurst: 1e9,
    ticketsPerMinute: 1e9,
  },
  { store, log: silentLogger, now, ticketKey: await generateEd25519() },
);
await coordinator.start();

/** The pre-index viewer ranking (routing.rankForViewer at 5935d4d), kept here as the reference. */
function rankEverything(stream: { streamId: string; ingest: string[] }, nodes: NodeRow[], region?: string) {
  return nodes
    .filter(
      (n) =>
        routing.isHealthy(n, T0, COORDINATOR_DEFAULTS.nodeTimeoutMs) &&
        routing.liveEdgeOf(n, stream.streamId) >= 0,
    )
    .map((n) => {
      const regional = region !== undefined && n.region === region ? 1 : 0;
      const headroom = Math.max(0, 1 - routing.loadRatio(n));
      const ingestPenalty = stream.ingest.includes(n.nodeId) ? 0.5 : 0;
      return { node: n, score: Number((regional + headroom - ingestPenalty).toFixed(4)) };
    })
    .sort((a, b) => b.score - a.score || a.node.nodeId.localeCompare(b.node.nodeId));
}
const reference = new Router(silentLogger);
reference.on("GET", "/v1/streams/:id/nodes", async (_req, res, p, url) => {
  const stream = await store.getStream(p.id ?? "");
  if (!stream) throw new SrpError("STREAM_NOT_FOUND", "no such stream");
  const nodes = routing.withPlausibleEdges(await store.listNodes(), stream.streamId, undefined);
  const ranked = rankEverything(stream, nodes, url.searchParams.get("region") ?? undefined);
  sendJson(res, 200, {
    streamId: stream.streamId,
    nodes: ranked.map((r) => ({
      nodeId: r.node.nodeId,
      url: r.node.url,
      region: r.node.region,
      score: r.score,
    })),
  });
});
const referenceHttp = await startHttpService({
  host: "127.0.0.1",
  port: 0,
  router: reference,
  metrics: createMetricsRegistry("reference", false),
  log: silentLogger,
});

console.log(JSON.stringify({ coordinator: coordinator.url, reference: referenceHttp.url, regions: REGIONS }));
process.on(
  "SIGTERM",
  () => void Promise.all([coordinator.stop(), referenceHttp.close()]).then(() => process.exit(0)),
);
