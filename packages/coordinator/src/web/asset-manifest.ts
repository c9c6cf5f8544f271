/** What the pages build (packages/coordinator/build.ts) writes last into dist/web, and the server reads. */
export const ASSET_MANIFEST = "manifest.json";

export interface AssetManifest {
  /** Every servable file by name, with the SHA-256 of its bytes (hex): its ETag. */
  files: Record<string, { sha256: string; bytes: number }>;
}

/** Content types by extension: a file of any other kind is never served. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
};

/**
 * A flat file name of the pages build: letters, digits, `-`, `_`, and dots only
 * between them (no `/`, `\`, `..`, leading dot, or empty part), with a known
 * extension. Everything a request names passes this before it nears the disk.
 */
export function isAssetName(name: string): boolean {
  if (name.length > 100 || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(name)) return false;
  return assetType(name) !== undefined;
}

/** The content type for a file name, by its last extension. */
export function assetType(name: string): string | undefined {
  const ext = name.slice(name.lastIndexOf(".") + 1);
  return Object.hasOwn(ASSET_TYPES, ext) ? ASSET_TYPES[ext] : undefined;
}

/** Checks a parsed manifest's shape (it is read from disk at every request: a half-written one is refused). */
export function parseManifest(text: string): AssetManifest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const files = (value as { files?: unknown } | null)?.files;
  if (typeof files !== "object" || files === null) return undefined;
  for (const [name, f] of Object.entries(files)) {
    const entry = f as { sha256?: unknown; bytes?: unknown } | null;
    if (!isAssetName(name) || typeof entry?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(entry.sha256))
      return undefined;
    if (typeof entry.bytes !== "number") return undefined;
  }
  return value as AssetManifest;
}
