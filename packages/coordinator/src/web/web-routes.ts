import { fileURLToPath } from "node:url";
import {
  MAX_WATCH_REPLICAS,
  parseWith,
  SrpError,
  StreamIdSchema,
  WatchConfigSchema,
} from "@streamrp2p/protocol";
import { type Router, sendJson } from "@streamrp2p/service";
import { StaticAssets } from "./static-assets.ts";

/** Where `npm run build` writes the pages (packages/coordinator/build.ts). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

/** The embeddable player bundle, under its old address. */
const PLAYER_FILES = new Set(["player.js", "player.js.map"]);

/** The dashboard loads its script and style from here and calls only this coordinator's API. */
const DASHBOARD_CSP = "default-src 'self'";

export interface WebRoutesOptions {
  /** The built pages (default: DEFAULT_WEB_DIR). */
  webDir?: string | undefined;
  /** The coordinator's other replicas, for the watch page's player. */
  replicaUrls: readonly string[];
}

/**
 * The pages a browser opens — GET /watch/:streamId, GET /dashboard — their
 * files under /assets/, the player bundle under /player/, and the watch
 * page's config (GET /v1/watch-config). All read-only.
 */
export function addWebRoutes(router: Router, o: WebRoutesOptions): void {
  const assets = new StaticAssets(o.webDir ?? DEFAULT_WEB_DIR);
  const watchConfig = watchConfigOf(o.replicaUrls);
  router.on("GET", "/watch/:streamId", (req, res, p) => {
    parseWith(StreamIdSchema, p.streamId, "stream id"); // the page reads it from its address
    return assets.send(req, res, "watch.html");
  });
  router.on("GET", "/dashboard", (req, res) =>
    assets.send(req, res, "dashboard.html", { "content-security-policy": DASHBOARD_CSP }),
  );
  router.on("GET", "/assets/:file", (req, res, p) => assets.send(req, res, p.file ?? ""));
  router.on("GET", "/player/:file", (req, res, p) => {
    const file = p.file ?? "";
    if (!PLAYER_FILES.has(file)) throw new SrpError("NOT_FOUND", `no player file ${file}`);
    return assets.send(req, res, file);
  });
  router.on("GET", "/v1/watch-config", (_req, res) => sendJson(res, 200, watchConfig));
}

/** The configured replicas a page may be told about (the CLI checks them; this keeps the reply in its schema). */
function watchConfigOf(replicaUrls: readonly string[]) {
  const url = WatchConfigSchema.shape.replicaUrls.element;
  return WatchConfigSchema.parse({
    replicaUrls: replicaUrls.filter((u) => url.safeParse(u).success).slice(0, MAX_WATCH_REPLICAS),
  });
}
