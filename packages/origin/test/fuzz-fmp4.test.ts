import {
  BoxReader,
  type CutSegment,
  parseMoof,
  parseMoov,
  Segmenter,
  type TrackInfo,
} from "@streamrp2p/origin";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FUZZ_RUNS, FUZZ_SEED, parsesOrRefuses } from "../../../test/support/fuzz.ts";

/** ISO-BMFF box: 32-bit size, type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) b.writeUInt32BE(v >>> 0, 4 * i);
  return b;
}

/** An init segment like ffmpeg's: one video track (id 1, timescale 90 kHz) with trex defaults. */
function initSegment(timescale = 90_000): Buffer {
  const tkhd = box("tkhd", u32(0, 0, 0, 1, 0)); // version 0: track id at 12
  const mdhd = box("mdhd", u32(0, 0, 0, timescale, 0));
  const hdlr = box("hdlr", u32(0, 0), Buffer.from("vide"), u32(0, 0, 0));
  const trak = box("trak", tkhd, box("mdia", mdhd, hdlr));
  const trex = box("trex", u32(0, 1, 1, 3_000, 0, 0x0001_0000));
  return Buffer.concat([box("ftyp", Buffer.from("isom")), box("moov", trak, box("mvex", trex))]);
}

/** One fragment: moof (tfhd, tfdt, trun with per-sample durations and flags) + mdat. */
function fragment(samples: number, keyframe: boolean): Buffer {
  const tfhd = box("tfhd", u32(0x02_0000, 1)); // default-base-is-moof, track 1
  const tfdt = box("tfdt", u32(0, 0));
  const perSample: number[] = [];
  for (let i = 0; i < samples; i++) perSample.push(3_000, i === 0 && keyframe ? 0 : 0x0001_0000);
  const trun = box("trun", u32(0x000500, samples, ...perSample)); // sample duration + flags present
  return Buffer.concat([box("moof", box("traf", tfhd, tfdt, trun)), box("mdat", Buffer.alloc(16))]);
}

const TYPES = [
  "moov",
  "trak",
  "tkhd",
  "mdia",
  "mdhd",
  "hdlr",
  "mvex",
  "trex",
  "moof",
  "traf",
  "tfhd",
  "tfdt",
  "trun",
  "mdat",
  "ftyp",
  "free",
];

/** Random box trees: real types, random sizes (0, 1 = 64-bit, too small, too large), random payloads. */
const boxTree: fc.Arbitrary<Buffer> = fc.letrec<{ node: Buffer }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom(...TYPES),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom("exact", "zero", "one", "random"),
        fc.nat(),
      )
      .map(([type, payload, sizing, n]) => {
        const b = box(type, Buffer.from(payload));
        if (sizing === "zero") b.writeUInt32BE(0, 0);
        if (sizing === "one") b.writeUInt32BE(1, 0);
        if (sizing === "random") b.writeUInt32BE(n >>> 0, 0);
        return b;
      }),
    fc
      .tuple(fc.constantFrom(...TYPES), fc.array(tie("node"), { maxLength: 4 }))
      .map(([type, kids]) => box(type, ...kids)),
  ),
})).node;

/** A real-looking stream with a few bytes changed and cut into random chunks. */
const mutatedStream = fc
  .tuple(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.nat(),
  )
  .map(([frags, flips, cut]) => {
    const whole = Buffer.concat([initSegment(), ...frags.map(([n, k]) => fragment(n, k))]);
    for (const [at, byte] of flips) whole[at % whole.length] = byte;
    return whole.subarray(0, whole.length - (cut % 8 === 0 ? cut % whole.length : 0));
  });

const chunkSizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 });

function chunks(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length] ?? 1;
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

const VIDEO: TrackInfo = {
  trackId: 1,
  kind: "video",
  timescale: 90_000,
  defaultSampleDuration: 3_000,
  defaultSampleFlags: 0,
};

describe("fuzz: fMP4 boxes (origin fmp4.ts, segmenter.ts)", () => {
  it("BoxReader: any byte stream in any chunks yields whole boxes of their declared size, or BAD_REQUEST", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
          boxTree,
          mutatedStream,
        ),
        chunkSizes,
        (bytes, sizes) => {
          const reader = new BoxReader();
          for (const chunk of chunks(bytes, sizes)) {
            const r = parsesOrRefuses(() => reader.push(chunk), ["BAD_REQUEST"]);
            if (!r.ok) return;
            for (const b of r.value) {
              const declared = b.bytes.readUInt32BE(0);
              expect(b.bytes.length).toBe(declared === 1 ? Number(b.bytes.readBigUInt64BE(8)) : declared);
            }
          }
        },
      ),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
  });

  it("parseMoov and parseMoof: any box tree gives tracks / a fragment with finite numbers, or BAD_REQUEST", () => {
    fc.assert(
      fc.property(boxTree, fc.constantFrom("moov", "moof"), (tree, as) => {
        const bytes = Buffer.from(tree);
        bytes.write(as, 4, "latin1");
        bytes.writeUInt32BE(bytes.length, 0);
        const b = { type: as, bytes };
        if (as === "moov") {
          const r = parsesOrRefuses(() => parseMoov(b), ["BAD_REQUEST"]);
          if (r.ok) for (const t of r.value) expect(t.timescale).toBeGreaterThan(0);
        } else {
          const r = parsesOrRefuses(() => parseMoof(b, VIDEO), ["BAD_REQUEST"]);
          if (r.ok && r.value) {
            expect(Number.isFinite(r.value.duration) && r.value.duration >= 0).toBe(true);
            expect(Number.isFinite(r.value.baseDecodeTime)).toBe(true);
          }
        }
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 3 },
    );
  });

  it("a trun claiming 2^32-1 samples is refused or counted at once, not looped over", () => {
    const tfhd = box("tfhd", u32(0, 1));
    const trun = box("trun", u32(0, 0xffff_ffff)); // no per-sample fields: all defaults
    const moof = box("moof", box("traf", tfhd, trun));
    const r = parsesOrRefuses(() => parseMoof({ type: "moof", bytes: moof }, VIDEO), ["BAD_REQUEST"]);
    if (r.ok) expect(r.value?.duration).toBe(0xffff_ffff * 3_000);
    const withFields = box("moof", box("traf", tfhd, box("trun", u32(0x100, 0xffff_ffff))));
    parsesOrRefuses(() => parseMoof({ type: "moof", bytes: withFields }, VIDEO), ["BAD_REQUEST"]);
  });

  it("Segmenter: mutated streams in random chunks emit segments with finite durations, or BAD_REQUEST", () => {
    let emitted = 0;
    fc.assert(
      fc.property(fc.oneof(mutatedStream, boxTree), chunkSizes, (bytes, sizes) => {
        const segments: CutSegment[] = [];
        const s = new Segmenter(100, { onInit: () => {}, onSegment: (seg) => segments.push(seg) });
        for (const chunk of chunks(bytes, sizes)) {
          if (!parsesOrRefuses(() => s.push(chunk), ["BAD_REQUEST"]).ok) return;
        }
        parsesOrRefuses(() => s.flush(), ["BAD_REQUEST"]);
        for (const seg of segments) {
          expect(Number.isFinite(seg.durationMs) && seg.durationMs >= 0, String(seg.durationMs)).toBe(true);
        }
        emitted += segments.length;
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    expect(emitted).toBeGreaterThan(0); // the generator reaches the cutting logic
  });

  it("an init whose video track has timescale 0 is refused, not a segment of NaN ms", () => {
    const s = new Segmenter(100, { onInit: () => {}, onSegment: () => {} });
    const r = parsesOrRefuses(
      () => s.push(Buffer.concat([initSegment(0), fragment(3, true)])),
      ["BAD_REQUEST"],
    );
    expect(r.ok).toBe(false);
  });
});
