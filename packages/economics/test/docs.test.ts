import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { docTables, EPOCH_PARAMS, fillDoc } from "../src/index.ts";

const doc = readFileSync(fileURLToPath(new URL("../../../docs/economics.md", import.meta.url)), "utf8");

describe("docs/economics.md", () => {
  it("carries the tables the model generates today (npm run docs:economics)", () => {
    expect(fillDoc(doc)).toBe(doc);
  });

  it("has a block for every generated table, and a stale block is noticed", () => {
    const tables = docTables();
    expect(Object.keys(tables).sort()).toEqual(["break-even", "fake-audience", "net-curve", "viewers"]);
    const stale = doc.replace("| hetzner cx22 |", "| hetzner cx22 (typed in) |");
    expect(stale).not.toBe(doc);
    expect(fillDoc(stale)).toBe(doc);
    expect(() => fillDoc("no markers")).toThrow(/no <!-- generated:break-even -->/);
  });

  it("quotes the coordinator's cap parameters as they are", () => {
    expect(doc).toContain(`\`maxSessionsPerSubnet\` = ${EPOCH_PARAMS.maxSessionsPerSubnet} |`);
    expect(doc).toContain(`\`maxSessionsPerSite\` = ${EPOCH_PARAMS.maxSessionsPerSite} |`);
    expect(doc).toContain(
      `\`collusionMinSessions\` = ${EPOCH_PARAMS.collusionMinSessions}, \`collusionMaxSubnets\` = ${EPOCH_PARAMS.collusionMaxSubnets} |`,
    );
  });
});
