import {
  type PlaylistSegment,
  parseMediaFileName,
  parseMediaPlaylist,
  playlistRun,
  renderMediaPlaylist,
} from "@streamrp2p/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FUZZ_RUNS, FUZZ_SEED, parsesOrRefuses } from "../../../test/support/fuzz.ts";

const TAGS = [
  "#EXTM3U",
  "#EXT-X-VERSION:7",
  "#EXT-X-TARGETDURATION:",
  "#EXT-X-MEDIA-SEQUENCE:",
  "#EXT-X-DISCONTINUITY-SEQUENCE:",
  "#EXT-X-DISCONTINUITY",
  "#EXTINF:",
  "#EXT-X-MAP:",
  '#EXT-X-MAP:URI="',
  "#EXT-X-ENDLIST",
  "#EXT-X-PROGRAM-DATE-TIME:",
  "#",
  "seg-1.m4s",
];

/** Lines made of real tags with random values: reaches deeper than random text. */
const tagLine = fc
  .tuple(
    fc.constantFrom(...TAGS),
    fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.double().map(String),
      fc.integer().map(String),
      fc.constantFrom("", ",", "NaN", "Infinity", "-1", "1e308", "0x10", '"', 'URI=""'),
    ),
  )
  .map(([tag, value]) => tag + value);

const segment: fc.Arbitrary<PlaylistSegment> = fc.record({
  seq: fc.nat({ max: 2 ** 40 }),
  durationMs: fc.integer({ min: 1, max: 60_000 }),
  init: fc.nat({ max: 1_000 }),
  producedAt: fc.integer({ min: 60_000, max: 4_000_000_000_000 }),
});

/** A real playlist with lines dropped, duplicated or replaced: mostly valid, so the checks run deep. */
const mutatedPlaylist = fc
  .tuple(
    fc.array(segment, { minLength: 1, maxLength: 8 }),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom("drop", "dup", "replace"), tagLine), { maxLength: 3 }),
  )
  .map(([segments, edits]) => {
    const lines = renderMediaPlaylist({ segments, ended: false }).split("\n");
    for (const [at, op, line] of edits) {
      const i = at % lines.length;
      if (op === "drop") lines.splice(i, 1);
      else if (op === "dup") lines.splice(i, 0, lines[i] ?? "");
      else lines[i] = line;
    }
    return lines.join("\n");
  });

const playlistText = fc.oneof(
  mutatedPlaylist,
  fc.string({ maxLength: 2_000 }),
  fc.string({ unit: "binary", maxLength: 2_000 }),
  fc
    .array(fc.oneof(tagLine, fc.string({ maxLength: 20 })), { maxLength: 60 })
    .chain((lines) => fc.constantFrom("\n", "\r\n", "\r").map((eol) => ["#EXTM3U", ...lines].join(eol))),
);

describe("fuzz: HLS playlists (parseMediaPlaylist)", () => {
  const parsed = { ok: 0, total: 0 };
  it("random text and random tag soup parse or throw MALFORMED_PLAYLIST, never anything else", () => {
    fc.assert(
      fc.property(playlistText, (text) => {
        parsed.total += 1;
        const r = parsesOrRefuses(() => parseMediaPlaylist(text), ["MALFORMED_PLAYLIST"]);
        if (r.ok) {
          parsed.ok += 1;
          const p = r.value;
          // A parsed playlist only holds numbers the parser checked: RFC 8216 decimal-integers
          // (exact, so sequence arithmetic stays exact) and finite non-negative durations.
          for (const n of [p.targetDurationS, p.mediaSequence, p.discontinuitySequence]) {
            expect(Number.isSafeInteger(n) && n >= 0, String(n)).toBe(true);
          }
          for (const s of p.segments) expect(Number.isFinite(s.durationS) && s.durationS >= 0).toBe(true);
        }
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 4 },
    );
    // The property means little unless a fair share of inputs got through the whole parser.
    expect(parsed.ok).toBeGreaterThan(parsed.total / 10);
  });

  it("every rendered playlist parses back to its listed run, each file under its own number; any truncation parses or throws MALFORMED_PLAYLIST", () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 12 }), fc.boolean(), fc.nat(), (segments, ended, cutAt) => {
        const text = renderMediaPlaylist({ segments, ended });
        const parsed = parseMediaPlaylist(text);
        expect(parsed.segments.length).toBe(playlistRun(segments).length);
        for (const s of parsed.segments) expect(s.uri).toBe(`seg-${s.mediaSequence}.m4s`);
        expect(parsed.ended).toBe(ended);
        parsesOrRefuses(
          () => parseMediaPlaylist(text.slice(0, cutAt % (text.length + 1))),
          ["MALFORMED_PLAYLIST"],
        );
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
  });

  it("a huge playlist (100k lines) parses within the budget", () => {
    const lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"];
    for (let i = 0; i < 50_000; i++) lines.push("#EXTINF:1.000,", `seg-${i}.m4s`);
    const r = parsesOrRefuses(() => parseMediaPlaylist(lines.join("\n")));
    expect(r.ok && r.value.segments.length).toBe(50_000);
  });
});

describe("fuzz: media file names (parseMediaFileName)", () => {
  it("never throws; a parsed init version or seq is a safe non-negative integer", () => {
    const name = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc
        .tuple(fc.constantFrom("init-", "seg-", "index", "window", ""), fc.string({ maxLength: 20 }))
        .map(([a, b]) => a + b),
      fc
        .tuple(
          fc.constantFrom("init-", "seg-"),
          fc.bigInt({ min: 0n, max: 10n ** 30n }),
          fc.constantFrom(".mp4", ".m4s"),
        )
        .map(([a, n, b]) => `${a}${n}${b}`),
    );
    fc.assert(
      fc.property(name, (file) => {
        const r = parsesOrRefuses(() => parseMediaFileName(file), []);
        expect(r.ok).toBe(true);
        const f = r.ok ? r.value : undefined;
        if (f?.kind === "init") expect(Number.isSafeInteger(f.version) && f.version >= 0).toBe(true);
        if (f?.kind === "segment") expect(Number.isSafeInteger(f.seq) && f.seq >= 0).toBe(true);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 4 },
    );
  });
});
