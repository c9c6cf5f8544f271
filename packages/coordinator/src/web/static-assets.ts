import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { SrpError } from "@streamrp2p/protocol";
import {
  ASSET_MANIFEST,
  type AssetManifest,
  assetType,
  isAssetName,
  parseManifest,
} from "./asset-manifest.ts";

const NOT_BUILT = "the coordinator's pages are not built: run `npm run build`";

/**
 * Serves the files of one pages build from `dir`: only names its manifest
 * lists (so nothing outside the build, however the request spells it), with
 * the content hash as ETag and `no-cache` (a browser revalidates, a 304 costs
 * no body). Not built or half built is a 503 that says so, never a 500.
 */
export class StaticAssets {
  constructor(private readonly dir: string) {}

  async send(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    headers: Record<string, string> = {},
  ): Promise<void> {
    if (!isAssetName(name)) throw new SrpError("NOT_FOUND", "no such file");
    const manifest = await this.#manifest();
    const entry = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
    const type = assetType(name);
    if (!entry || !type) throw new SrpError("NOT_FOUND", `no file ${name}`);
    const etag = `"${entry.sha256.slice(0, 32)}"`;
    const common = { etag, "cache-control": "no-cache", ...headers };
    if (matches(req.headers["if-none-match"], etag)) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(join(this.dir, name));
    } catch (cause) {
      throw new SrpError("UNAVAILABLE", `${NOT_BUILT} (${name} is missing)`, { cause });
    }
    res.writeHead(200, {
      ...common,
      "content-type": type,
      "content-length": body.length,
      "x-content-type-options": "nosniff",
    });
    res.end(body);
  }

  /** Read at each request, so a rebuild is served at once; it is a few hundred bytes. */
  async #manifest(): Promise<AssetManifest> {
    let text: string;
    try {
      text = await readFile(join(this.dir, ASSET_MANIFEST), "utf8");
    } catch (cause) {
      throw new SrpError("UNAVAILABLE", NOT_BUILT, { cause });
    }
    const manifest = parseManifest(text);
    if (!manifest) throw new SrpError("UNAVAILABLE", `${NOT_BUILT} (its manifest is unreadable)`);
    return manifest;
  }
}

/** If-None-Match: a list of ETags (weak ones compare equal, RFC 9110 §13.1.2) or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag.replace(/^W\//, "") === etag;
  });
}
