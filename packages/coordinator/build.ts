/**
 * Builds the pages the coordinator serves (watch page, dashboard, the
 * embeddable player) into dist/web: HTML copied, TypeScript and CSS bundled
 * by esbuild, and last a manifest naming every file with its content hash —
 * the coordinator serves only what the manifest names, with the hash as ETag.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { ASSET_MANIFEST, type AssetManifest, isAssetName } from "./src/web/asset-manifest.ts";

const started = Date.now();
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const outdir = here("./dist/web/");
const web = here("./web/");

// Written fresh: a file left from an older build would be served as current.
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: [
    ...["watch", "dashboard"].flatMap((page) => [
      { in: join(web, `${page}/${page}.ts`), out: page },
      { in: join(web, `${page}/${page}.css`), out: page },
    ]),
    { in: fileURLToPath(import.meta.resolve("@streamrp2p/player/browser")), out: "player" },
  ],
  outdir,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
for (const page of ["watch", "dashboard"]) {
  await copyFile(join(web, `${page}/${page}.html`), join(outdir, `${page}.html`));
}

const manifest: AssetManifest = { files: {} };
for (const name of (await readdir(outdir)).sort()) {
  if (!isAssetName(name)) throw new Error(`[build] ${name}: not a name the coordinator would serve`);
  const body = await readFile(join(outdir, name));
  manifest.files[name] = { sha256: createHash("sha256").update(body).digest("hex"), bytes: body.length };
}
await writeFile(join(outdir, ASSET_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
const total = Object.values(manifest.files).reduce((n, f) => n + f.bytes, 0);
console.log(
  `[build] ${Object.keys(manifest.files).length} page files (${(total / 1024).toFixed(0)} KiB) in ${basename(outdir)} in ${Date.now() - started} ms`,
);
