/** Bundles the browser player (hls.js + verification + receipts) into dist/player.js. */
import { build } from "esbuild";

const started = Date.now();
const result = await build({
  entryPoints: [new URL("./src/browser.ts", import.meta.url).pathname],
  outfile: new URL("./dist/player.js", import.meta.url).pathname,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(
  `[build] player bundle ${(bytes / 1024).toFixed(0)} KiB (with source map) in ${Date.now() - started} ms`,
);
