// The page a viewer opens: one URL, and the player does the rest.
import { attachPlayer, type PlayerHandle, type PlayerStatus } from "@streamrp2p/player/attach";
// As when the page loaded /player/player.js: `window.StreamrP2P.attachPlayer` for a second player or a script.
import "@streamrp2p/player/browser";
import { loadWatchConfig } from "./watch-config.ts";

const MESSAGES: Partial<Record<PlayerStatus, string>> = {
  offline: "This stream is offline right now. Waiting for it to start…",
  ended: "The broadcast has ended.",
  error: "Trouble reaching the network; retrying…",
};
const STATS_INTERVAL_MS = 500; // ms between refreshes of the figures under the video

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`watch page: no #${id}`);
  return el as T;
}

const fmtBytes = (n: number) => (n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`);

function showStatus(status: PlayerStatus, detail?: string): void {
  const badge = $("badge");
  badge.textContent = status === "playing" ? "LIVE" : status;
  badge.className = `badge ${status === "playing" ? "live" : status}`;
  $("message").textContent = MESSAGES[status] ?? "";
  // biome-ignore lint/suspicious/noConsole: the viewer's devtools are this page's log
  if (detail) console.info("[streamrp2p]", status, detail);
}

function showStats(player: PlayerHandle): void {
  const s = player.stats();
  if (!s) return;
  $("node").textContent = s.currentNode || "–";
  $("verified").textContent = String(s.verifiedSegments);
  $("rejected").textContent = String(s.rejectedSegments);
  $("switches").textContent = String(s.switches);
  $("bitrate").textContent = s.bitrateBps ? `${(s.bitrateBps / 1e6).toFixed(2)} Mbit/s` : "–";
  $("bytes").textContent = fmtBytes(s.bytesReceived);
  $("receipts").textContent = String(s.receiptsSent);
}

async function main(): Promise<void> {
  const config = await loadWatchConfig(location);
  if (!config) {
    $("message").textContent = "No stream named in this address.";
    return;
  }
  document.title = `${config.streamId} · StreamrP2P`;
  $("stream").textContent = config.streamId;
  const player = attachPlayer($<HTMLVideoElement>("video"), {
    coordinatorUrls: config.coordinatorUrls,
    streamId: config.streamId,
    // `?ll=1`: low-latency HLS (parts, blocking reloads), every part verified.
    lowLatency: new URLSearchParams(location.search).get("ll") === "1",
    onStatus: showStatus,
  });
  // Tests and curious viewers read the player from here.
  (window as unknown as { __srp: PlayerHandle }).__srp = player;
  setInterval(() => showStats(player), STATS_INTERVAL_MS);
}

void main();
