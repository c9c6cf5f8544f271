import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileBroadcastState } from "@streamrp2p/origin";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

describe("FileBroadcastState", () => {
  it("starts a new stream at seq 0 with no init, and a restart past everything reserved", () => {
    const dir = tempDir("bstate");
    expect(new FileBroadcastState(dir, "demo").load()).toEqual({ nextSeq: 0, initVersion: -1 });
    new FileBroadcastState(dir, "demo").reserve(100, 3);
    // A new process (kill -9 of the old one) starts at the reservation, never below it.
    expect(new FileBroadcastState(dir, "demo").load()).toEqual({ nextSeq: 100, initVersion: 3 });
    expect(new FileBroadcastState(dir, "other").load()).toEqual({ nextSeq: 0, initVersion: -1 });
    expect(JSON.parse(readFileSync(join(dir, "demo.broadcast.json"), "utf8"))).toEqual({
      seqLimit: 100,
      initVersion: 3,
    });
  });

  it("refuses a corrupt state file rather than guess a position it may have signed already", () => {
    const dir = tempDir("bstate-bad");
    for (const bad of ["{", '{"seqLimit":-1,"initVersion":0}', '{"seqLimit":"9","initVersion":0}', "null"]) {
      writeFileSync(join(dir, "demo.broadcast.json"), bad);
      expect(() => new FileBroadcastState(dir, "demo").load(), bad).toThrow(/corrupt/);
    }
  });
});
