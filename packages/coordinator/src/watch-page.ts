import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseWith, SrpError, StreamIdSchema } from "@streamrp2p/protocol";
import type { Router } from "@streamrp2p/service";

const DEFAULT_PLAYER_DIR = fileURLToPath(new URL("../../player/dist/", import.meta.url));
const PLAYER_FILES: Record<string, string> = {
  "player.js": "text/javascript; charset=utf-8",
  "player.js.map": "application/json",
};

/**
 * The page a viewer opens: one URL, and the player does the rest. The player
 * asks the replica that served the page first, then the other replicas.
 */
function watchPage(streamId: string, replicaUrls: readonly string[]): string {
  // Inside <script>: "<" escaped so no configured string can close the element.
  const replicas = JSON.stringify(replicaUrls).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${streamId} · StreamrP2P</title>
<style>
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #0e1117; color: #e6e6e6; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 12px; display: flex; gap: 10px; align-items: center; }
  video { width: 100%; aspect-ratio: 16 / 9; background: #000; border-radius: 6px; }
  .badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #444; }
  .badge.live { background: #d22; }
  .badge.ended { background: #666; }
  #message { margin: 10px 0; color: #f0b429; min-height: 1.4em; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 13px; }
  dt { color: #9aa0a6; }
  dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
  <h1>${streamId} <span id="badge" class="badge">connecting</span></h1>
  <video id="video" controls playsinline muted></video>
  <div id="message"></div>
  <dl>
    <dt>Serving node</dt><dd id="node">–</dd>
    <dt>Verified segments</dt><dd id="verified">0</dd>
    <dt>Rejected segments</dt><dd id="rejected">0</dd>
    <dt>Node switches</dt><dd id="switches">0</dd>
    <dt>Bitrate</dt><dd id="bitrate">–</dd>
    <dt>Received</dt><dd id="bytes">0 B</dd>
    <dt>Receipts sent</dt><dd id="receipts">0</dd>
  </dl>
</main>
<script src="/player/player.js"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const streamId = ${JSON.stringify(streamId)};
  const MESSAGES = {
    offline: "This stream is offline right now. Waiting for it to start…",
    ended: "The broadcast has ended.",
    error: "Trouble reaching the network; retrying…",
  };
  const replicas = ${replicas};
  const player = StreamrP2P.attachPlayer($("video"), {
    coordinatorUrls: [location.origin, ...replicas.filter((u) => u !== location.origin)],
    streamId,
    onStatus(status, detail) {
      const badge = $("badge");
      badge.textContent = status === "playing" ? "LIVE" : status;
      badge.className = "badge " + (status === "playing" ? "live" : status);
      $("message").textContent = MESSAGES[status] || "";
      if (detail) console.info("[streamrp2p]", status, detail);
    },
  });
  window.__srp = player;
  const fmtBytes = (n) => n > 1e6 ? (n / 1e6).toFixed(1) + " MB" : (n / 1e3).toFixed(0) + " kB";
  setInterval(() => {
    const s = player.stats();
    if (!s) return;
    $("node").textContent = s.currentNode || "–";
    $("verified").textContent = s.verifiedSegments;
    $("rejected").textContent = s.rejectedSegments;
    $("switches").textContent = s.switches;
    $("bitrate").textContent = s.bitrateBps ? (s.bitrateBps / 1e6).toFixed(2) + " Mbit/s" : "–";
    $("bytes").textContent = fmtBytes(s.bytesReceived);
    $("receipts").textContent = s.receiptsSent;
  }, 500);
</script>
</body>
</html>
`;
}

/** GET /watch/:streamId and the player bundle it loads. */
export function addWatchRoutes(
  router: Router,
  o: { playerDir?: string | undefined; replicaUrls?: readonly string[] },
): void {
  const dir = o.playerDir ?? DEFAULT_PLAYER_DIR;
  router.on("GET", "/watch/:streamId", (_req, res, p) => {
    const streamId = parseWith(StreamIdSchema, p.streamId, "stream id");
    const body = watchPage(streamId, o.replicaUrls ?? []);
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-cache",
    });
    res.end(body);
  });
  router.on("GET", "/player/:file", async (_req, res, p) => {
    const file = p.file ?? "";
    const type = PLAYER_FILES[file];
    if (!type) throw new SrpError("NOT_FOUND", `no player file ${file}`);
    let body: Buffer;
    try {
      body = await readFile(join(dir, file));
    } catch (cause) {
      throw new SrpError("UNAVAILABLE", "the player bundle is not built: run `npm run build`", { cause });
    }
    res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-cache" });
    res.end(body);
  });
}
