// The network at a glance, from the coordinator's public API: streams, nodes and
// their load, reputation, earnings and epochs. `?node=0x…` opens a node's
// operator view, the same data as `streamrp2p node status`.
import type { NodeStatus, StreamInfo } from "@streamrp2p/protocol";
import { drawBars, drawLine } from "./charts.ts";
import { $, bar, el, mb, pct, row, short, tokens } from "./dom.ts";

/** One entry of GET /v1/nodes (the fields this page reads). */
interface NodeEntry {
  nodeId: string;
  region: string;
  healthy: boolean;
  draining: boolean;
  egressBps: number;
  capacityMbps: number;
  bytesServed: number;
  load: { streamId: string; liveEdgeSeq: number; viewers: number }[];
}

const MB = 1e6;
const REFRESH_MS = 2_000; // ms between refreshes
const HISTORY = 90; // egress samples kept for the chart (3 minutes at REFRESH_MS)
const MAX_STATUS_LOOKUPS = 100; // node status requests per refresh
const selected = new URLSearchParams(location.search).get("node");
const egressHistory: number[] = [];

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path);
  const body = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(`${path}: ${body.error ? body.error.message : res.status}`);
  return body;
}

const viewersOf = (n: NodeEntry, streamId?: string) =>
  n.load.filter((l) => streamId === undefined || l.streamId === streamId).reduce((a, l) => a + l.viewers, 0);

function showTiles(streams: StreamInfo[], nodes: NodeEntry[], lastClosed: number | null): void {
  const healthy = nodes.filter((n) => n.healthy);
  const egress = healthy.reduce((s, n) => s + n.egressBps, 0) / MB;
  $("t-streams").textContent = String(streams.length);
  $("t-nodes").textContent = `${healthy.length} / ${nodes.length}`;
  $("t-viewers").textContent = String(nodes.reduce((s, n) => s + viewersOf(n), 0));
  $("t-egress").textContent = `${egress.toFixed(2)} Mbit/s`;
  $("t-epoch").textContent = lastClosed === null ? "none yet" : String(lastClosed);
  egressHistory.push(egress);
  if (egressHistory.length > HISTORY) egressHistory.shift();
  drawLine($("egress-chart"), egressHistory, Math.max(...egressHistory));
}

function showStreams(streams: StreamInfo[], nodes: NodeEntry[]): void {
  const rows = streams.map((s) => {
    const carrying = nodes.filter((n) => n.load.some((l) => l.streamId === s.streamId && l.liveEdgeSeq >= 0));
    const viewers = carrying.reduce((a, n) => a + viewersOf(n, s.streamId), 0);
    const watch = el("a", s.streamId) as HTMLAnchorElement;
    watch.href = `/watch/${encodeURIComponent(s.streamId)}`;
    const ingest = s.ingest.map((i) => short(i.nodeId)).join(", ") || "none";
    return row([watch, el("span", short(s.signer), "mono"), ingest, carrying.length, viewers]);
  });
  $("streams").replaceChildren(...rows);
}

function showNodes(nodes: NodeEntry[], statuses: Map<string, NodeStatus>): void {
  const rows = nodes.map((n) => {
    const st = statuses.get(n.nodeId);
    const link = el("a", short(n.nodeId), "mono") as HTMLAnchorElement;
    link.href = `?node=${n.nodeId}`;
    const state = n.draining
      ? el("span", "draining", "warn")
      : n.healthy
        ? el("span", "healthy", "ok")
        : el("span", "down", "bad");
    const load = bar(
      n.egressBps / (n.capacityMbps * MB),
      `${(n.egressBps / MB).toFixed(2)} of ${n.capacityMbps} Mbit/s`,
    );
    const quality = st ? pct(st.reputation.quality) : "?";
    const tr = row([link, n.region, state, viewersOf(n), load, mb(n.bytesServed), quality]);
    tr.dataset.node = n.nodeId;
    return tr;
  });
  $("nodes").replaceChildren(...rows);
}

function showNode(s: NodeStatus): void {
  $("node-state").textContent = s.draining ? "draining" : s.healthy ? "healthy" : "down";
  $("node-viewers").textContent = String(s.viewers);
  $("node-bytes").textContent = mb(s.bytesServed);
  $("node-receipted").textContent = mb(s.receipts.bytes);
  $("node-pending").textContent = mb(s.receipts.pendingBytes);
  $("node-quality").textContent = pct(s.reputation.quality);
  const r = s.reputation;
  const facets: [string, number][] = [
    ["success", r.success],
    ["latency", r.latency],
    ["freshness", r.freshness],
    ["uptime", r.uptime],
  ];
  $("node-reputation").replaceChildren(...facets.map(([k, v]) => row([k, pct(v), bar(v)])));
  $("node-explain").replaceChildren(...r.explain.map((x) => el("li", x)));
  drawBars(
    $("epoch-chart"),
    s.epochs.map((e) => e.creditedBytes / MB),
  );
  $("node-rewards-note").textContent = s.rewards
    ? `as of epoch ${s.rewards.latestEpoch ?? "none yet"} (tokens)`
    : `rewards unavailable: ${s.rewardsError}`;
  const payees = (s.rewards?.payees ?? []).map((p) =>
    row([
      el("span", p.account, "mono"),
      p.role,
      `${(p.bps / 100).toFixed(2)} %`,
      tokens(p.earned),
      tokens(p.claimable),
      tokens(p.pending),
      tokens(p.claimed),
    ]),
  );
  $("payees").replaceChildren(...payees);
}

async function refresh(): Promise<void> {
  const [{ streams }, { nodes }, epochs] = await Promise.all([
    get<{ streams: StreamInfo[] }>("/v1/streams"),
    get<{ nodes: NodeEntry[] }>("/v1/nodes"),
    get<{ lastClosed: number | null }>("/v1/epochs"),
  ]);
  const statuses = new Map<string, NodeStatus>();
  await Promise.all(
    nodes.slice(0, MAX_STATUS_LOOKUPS).map(async (n) => {
      try {
        statuses.set(n.nodeId, await get<NodeStatus>(`/v1/nodes/${n.nodeId}/status`));
      } catch {
        // shown as unknown
      }
    }),
  );
  showTiles(streams, nodes, epochs.lastClosed);
  showStreams(streams, nodes);
  showNodes(nodes, statuses);
  if (selected) {
    $("node-panel").style.display = "block";
    $("node-id").textContent = selected;
    const s = statuses.get(selected.toLowerCase());
    if (s) showNode(s);
  }
  $("error").textContent = "";
  document.body.dataset.updated = String(Date.now());
}

async function loop(): Promise<void> {
  try {
    await refresh();
  } catch (err) {
    $("error").textContent = String(err);
  }
  setTimeout(loop, REFRESH_MS);
}
void loop();
