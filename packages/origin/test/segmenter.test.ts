import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CutPart, type CutSegment, Segmenter } from "@streamrp2p/origin";
import { beforeAll, describe, expect, it } from "vitest";
import {
  decodeAll,
  makeTestFlv,
  probeCodecs,
  remuxToFmp4,
  requireFfmpeg,
  tempDir,
} from "../../../test/support/tools.ts";

describe("Segmenter on real ffmpeg fMP4", () => {
  let dir: string;
  let fmp4: Buffer;
  beforeAll(() => {
    requireFfmpeg();
    dir = tempDir("segmenter");
    fmp4 = readFileSync(remuxToFmp4(dir, makeTestFlv(dir, 5)));
  });

  function cut(chunkSize: number) {
    let init: Buffer | undefined;
    const segments: CutSegment[] = [];
    const s = new Segmenter(1000, { onInit: (b) => (init = b), onSegment: (seg) => segments.push(seg) });
    for (let i = 0; i < fmp4.length; i += chunkSize) s.push(fmp4.subarray(i, i + chunkSize));
    s.flush();
    return { init: init as Buffer, segments };
  }

  it("cuts ~1 s segments, each independently decodable with the init", () => {
    const { init, segments } = cut(64 * 1024);
    expect(segments.length).toBe(5);
    for (const seg of segments) {
      expect(seg.durationMs).toBeGreaterThanOrEqual(1000);
      expect(seg.durationMs).toBeLessThan(1100);
      expect(seg.fragmentOffsets[0]).toBe(0);
    }
    const total = segments.reduce((sum, s) => sum + s.durationMs, 0);
    expect(total).toBeGreaterThanOrEqual(4990);
    // Each segment alone (init + segment) decodes: it starts on a keyframe.
    for (const [i, seg] of segments.entries()) {
      const file = join(dir, `alone-${i}.mp4`);
      writeFileSync(file, Buffer.concat([init, seg.bytes]));
      expect(probeCodecs(file)).toEqual(["aac", "h264"]);
      decodeAll(file);
    }
  });

  it("gives identical output whatever the chunk boundaries", () => {
    const a = cut(64 * 1024);
    const b = cut(7); // boxes split across many tiny chunks
    expect(b.init.equals(a.init)).toBe(true);
    expect(b.segments.map((s) => s.bytes.toString("base64"))).toEqual(
      a.segments.map((s) => s.bytes.toString("base64")),
    );
  });

  it("keeps every byte: init + segments are the whole file minus nothing but trailing index boxes", () => {
    const { init, segments } = cut(4096);
    const covered = init.length + segments.reduce((n, s) => n + s.bytes.length, 0);
    expect(covered).toBeLessThanOrEqual(fmp4.length);
    expect(fmp4.length - covered).toBeLessThan(1024); // only mfra/trailer boxes are dropped
  });

  it("emits every fragment as a part, before its segment; a segment's parts are its bytes, the first one independent", () => {
    const events: (CutPart | CutSegment)[] = [];
    const s = new Segmenter(1000, {
      onInit() {},
      onPart: (p) => events.push(p),
      onSegment: (seg) => events.push(seg),
    });
    for (let i = 0; i < fmp4.length; i += 4096) s.push(fmp4.subarray(i, i + 4096));
    s.flush();
    let pending: CutPart[] = [];
    let segments = 0;
    for (const e of events) {
      if ("index" in e) {
        expect(e.index).toBe(pending.length);
        pending.push(e);
        continue;
      }
      segments += 1;
      expect(pending.length).toBe(e.fragmentOffsets.length);
      expect(pending.length).toBeGreaterThan(1); // the fixture's fragments are shorter than a segment
      expect(Buffer.concat(pending.map((p) => p.bytes)).equals(e.bytes)).toBe(true);
      expect(pending[0]?.independent).toBe(true);
      const partsMs = pending.reduce((n, p) => n + p.durationMs, 0);
      expect(Math.abs(partsMs - e.durationMs)).toBeLessThanOrEqual(pending.length);
      pending = [];
    }
    expect(segments).toBe(5);
    expect(pending).toEqual([]);
  });

  it("rejects a stream that is not MP4 with a clear error", () => {
    const s = new Segmenter(1000, { onInit() {}, onSegment() {} });
    expect(() => s.push(Buffer.from("\x00\x00\x00\x04junkjunkjunk", "latin1"))).toThrow(/bad box size/);
  });
});
