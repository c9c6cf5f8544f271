// Builds the docs: writes the model's tables into docs/economics.md (`--check`: fail if they are stale).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fillDoc } from "./src/table.ts";

const path = fileURLToPath(new URL("../../docs/economics.md", import.meta.url));
const before = readFileSync(path, "utf8");
const after = fillDoc(before);
if (process.argv.includes("--check")) {
  if (after !== before) {
    console.error("docs/economics.md: generated tables are stale; run npm run docs:economics");
    process.exit(1);
  }
  console.log("docs/economics.md: tables up to date");
} else {
  writeFileSync(path, after);
  console.log(after === before ? "docs/economics.md: unchanged" : "docs/economics.md: tables rewritten");
}
