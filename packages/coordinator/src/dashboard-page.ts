import type { Router } from "@streamrp2p/service";

/**
 * The network at a glance, served by the coordinator itself: streams, nodes
 * and their load, reputation, earnings and epochs, with charts drawn from
 * the public API (no build step, no third-party code). `?node=0x…` opens a
 * node's operator view, the same data as `streamrp2p node status`.
 */
const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StreamrP2P dashboard</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #0e1117; color: #e6e6e6; }
  main { max-width: 1200px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  h2 { font-size: 15px; margin: 20px 0 8px; color: #9aa0a6; text-transform: uppercase; letter-spacing: .05em; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
  .tile { background: #161b22; border-radius: 6px; padding: 10px; }
  .tile b { display: block; font-size: 22px; }
  table { border-collapse: collapse; width: 100%; background: #161b22; border-radius: 6px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #21262d; font-variant-numeric: tabular-nums; }
  th { color: #9aa0a6; font-weight: 500; }
  td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  a { color: #58a6ff; }
  .ok { color: #3fb950; } .warn { color: #f0b429; } .bad { color: #f85149; }
  .bar { height: 8px; background: #21262d; border-radius: 4px; min-width: 80px; }
  .bar > span { display: block; height: 100%; background: #58a6ff; border-radius: 4px; }
  svg { background: #161b22; border-radius: 6px; width: 100%; }
  #node-panel { display: none; }
  .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  #error { color: #f85149; min-height: 1.2em; }
</style>
</head>
<body>
<main>
  <h1>StreamrP2P network</h1>
  <div id="error"></div>
  <div class="tiles">
    <div class="tile">streams<b id="t-streams">–</b></div>
    <div class="tile">healthy nodes<b id="t-nodes">–</b></div>
    <div class="tile">viewers<b id="t-viewers">–</b></div>
    <div class="tile">egress<b id="t-egress">–</b></div>
    <div class="tile">last closed epoch<b id="t-epoch">–</b></div>
  </div>
  <h2>Egress, all nodes (Mbit/s)</h2>
  <svg id="egress-chart" viewBox="0 0 600 120" preserveAspectRatio="none"></svg>
  <h2>Streams</h2>
  <table><thead><tr><th>stream</th><th>streamer</th><th>ingest relays</th><th>nodes carrying</th><th>viewers</th></tr></thead>
  <tbody id="streams"></tbody></table>
  <h2>Nodes</h2>
  <table><thead><tr><th>node</th><th>region</th><th>state</th><th>viewers</th><th>load</th><th>served</th><th>quality</th></tr></thead>
  <tbody id="nodes"></tbody></table>
  <section id="node-panel">
    <h2>Node <span id="node-id" class="mono"></span></h2>
    <div class="tiles">
      <div class="tile">state<b id="node-state">–</b></div>
      <div class="tile">viewers<b id="node-viewers">–</b></div>
      <div class="tile">served<b id="node-bytes">–</b></div>
      <div class="tile">receipted<b id="node-receipted">–</b></div>
      <div class="tile">pending epoch<b id="node-pending">–</b></div>
      <div class="tile">reputation<b id="node-quality">–</b></div>
    </div>
    <div class="grid2">
      <div><h2>Reputation</h2><table><tbody id="node-reputation"></tbody></table><ul id="node-explain"></ul></div>
      <div><h2>Credited per epoch (MB)</h2><svg id="epoch-chart" viewBox="0 0 300 120" preserveAspectRatio="none"></svg></div>
    </div>
    <h2>Rewards</h2>
    <div id="node-rewards-note"></div>
    <table><thead><tr><th>payee</th><th>role</th><th>share</th><th>earned</th><th>claimable</th><th>pending</th><th>claimed</th></tr></thead>
    <tbody id="payees"></tbody></table>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const MB = 1e6;
const selected = new URLSearchParams(location.search).get("node");
const egressHistory = [];

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? wrap(c) : el("td", c));
  return tr;
}
function wrap(node) { const td = document.createElement("td"); td.appendChild(node); return td; }
function short(a) { return a.slice(0, 8) + "…" + a.slice(-4); }
function mb(b) { return (b / MB).toFixed(1) + " MB"; }
function pct(x) { return Math.round(x * 100) + " %"; }
function tokens(wei) {
  const s = BigInt(wei).toString().padStart(19, "0");
  return (s.slice(0, -18) + "." + s.slice(-18, -14)).replace(/^0+(?=\\d)/, "");
}
async function get(path) {
  const res = await fetch(path);
  const body = await res.json();
  if (!res.ok) throw new Error(path + ": " + (body.error ? body.error.message : res.status));
  return body;
}
function replaceRows(tbody, rows) { tbody.replaceChildren(...rows); }

function drawLine(svg, values, max) {
  const w = 600, h = 120, n = values.length;
  const top = Math.max(max, 1e-9);
  const pts = values.map((v, i) => ((n === 1 ? 0 : (i / (n - 1)) * w).toFixed(1) + "," + (h - (v / top) * (h - 10)).toFixed(1)));
  const path = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  path.setAttribute("points", pts.join(" "));
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "#58a6ff");
  path.setAttribute("stroke-width", "2");
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "14"); label.setAttribute("fill", "#9aa0a6"); label.setAttribute("font-size", "11");
  label.textContent = "max " + top.toFixed(2);
  svg.replaceChildren(path, label);
}
function drawBars(svg, values) {
  const w = 300, h = 120, n = Math.max(values.length, 1), max = Math.max(...values, 1e-9);
  const bars = values.map((v, i) => {
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const bh = (v / max) * (h - 10);
    r.setAttribute("x", ((i * w) / n + 1).toFixed(1));
    r.setAttribute("width", Math.max(1, w / n - 2).toFixed(1));
    r.setAttribute("y", (h - bh).toFixed(1));
    r.setAttribute("height", bh.toFixed(1));
    r.setAttribute("fill", "#3fb950");
    return r;
  });
  svg.replaceChildren(...bars);
}

async function refresh() {
  const [{ streams }, { nodes }, epochs] = await Promise.all([get("/v1/streams"), get("/v1/nodes"), get("/v1/epochs")]);
  const statuses = new Map();
  await Promise.all(nodes.slice(0, 100).map(async (n) => {
    try { statuses.set(n.nodeId, await get("/v1/nodes/" + n.nodeId + "/status")); } catch { /* shown as unknown */ }
  }));
  const healthy = nodes.filter((n) => n.healthy);
  const viewers = nodes.reduce((s, n) => s + n.load.reduce((a, l) => a + l.viewers, 0), 0);
  const egress = healthy.reduce((s, n) => s + n.egressBps, 0) / MB;
  $("t-streams").textContent = streams.length;
  $("t-nodes").textContent = healthy.length + " / " + nodes.length;
  $("t-viewers").textContent = viewers;
  $("t-egress").textContent = egress.toFixed(2) + " Mbit/s";
  $("t-epoch").textContent = epochs.lastClosed === null ? "none yet" : epochs.lastClosed;
  egressHistory.push(egress);
  if (egressHistory.length > 90) egressHistory.shift();
  drawLine($("egress-chart"), egressHistory, Math.max(...egressHistory));

  replaceRows($("streams"), streams.map((s) => {
    const carrying = nodes.filter((n) => n.load.some((l) => l.streamId === s.streamId && l.liveEdgeSeq >= 0));
    const v = carrying.reduce((a, n) => a + n.load.filter((l) => l.streamId === s.streamId).reduce((b, l) => b + l.viewers, 0), 0);
    const watch = el("a", s.streamId); watch.href = "/watch/" + encodeURIComponent(s.streamId);
    return row([watch, el("span", short(s.signer), "mono"), s.ingest.map((i) => short(i.nodeId)).join(", ") || "none", carrying.length, v]);
  }));

  replaceRows($("nodes"), nodes.map((n) => {
    const st = statuses.get(n.nodeId);
    const link = el("a", short(n.nodeId), "mono"); link.href = "?node=" + n.nodeId;
    const state = n.draining ? el("span", "draining", "warn") : n.healthy ? el("span", "healthy", "ok") : el("span", "down", "bad");
    const bar = el("div", undefined, "bar"); const fill = el("span");
    fill.style.width = Math.min(100, (n.egressBps / (n.capacityMbps * MB)) * 100).toFixed(1) + "%";
    bar.appendChild(fill); bar.title = (n.egressBps / MB).toFixed(2) + " of " + n.capacityMbps + " Mbit/s";
    const tr = row([link, n.region, state, n.load.reduce((a, l) => a + l.viewers, 0), bar, mb(n.bytesServed), st ? pct(st.reputation.quality) : "?"]);
    tr.dataset.node = n.nodeId;
    return tr;
  }));

  const s = selected && statuses.get(selected.toLowerCase());
  if (selected) {
    $("node-panel").style.display = "block";
    $("node-id").textContent = selected;
  }
  if (s) {
    $("node-state").textContent = s.draining ? "draining" : s.healthy ? "healthy" : "down";
    $("node-viewers").textContent = s.viewers;
    $("node-bytes").textContent = mb(s.bytesServed);
    $("node-receipted").textContent = mb(s.receipts.bytes);
    $("node-pending").textContent = mb(s.receipts.pendingBytes);
    $("node-quality").textContent = pct(s.reputation.quality);
    const r = s.reputation;
    replaceRows($("node-reputation"), [["success", r.success], ["latency", r.latency], ["freshness", r.freshness], ["uptime", r.uptime]].map(([k, v]) => {
      const bar = el("div", undefined, "bar"); const fill = el("span"); fill.style.width = (v * 100).toFixed(0) + "%"; bar.appendChild(fill);
      return row([k, pct(v), bar]);
    }));
    $("node-explain").replaceChildren(...r.explain.map((x) => el("li", x)));
    drawBars($("epoch-chart"), s.epochs.map((e) => e.creditedBytes / MB));
    $("node-rewards-note").textContent = s.rewards ? "as of epoch " + (s.rewards.latestEpoch ?? "none yet") + " (tokens)" : "rewards unavailable: " + s.rewardsError;
    replaceRows($("payees"), (s.rewards ? s.rewards.payees : []).map((p) =>
      row([el("span", p.account, "mono"), p.role, (p.bps / 100).toFixed(2) + " %", tokens(p.earned), tokens(p.claimable), tokens(p.pending), tokens(p.claimed)])));
  }
  $("error").textContent = "";
  document.body.dataset.updated = String(Date.now());
}

async function loop() {
  try { await refresh(); } catch (err) { $("error").textContent = String(err); }
  setTimeout(loop, 2000);
}
loop();
</script>
</body>
</html>
`;

export function addDashboardRoutes(router: Router): void {
  router.on("GET", "/dashboard", (_req, res) => {
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(DASHBOARD_HTML),
      "cache-control": "no-cache",
      "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
    });
    res.end(DASHBOARD_HTML);
  });
}
