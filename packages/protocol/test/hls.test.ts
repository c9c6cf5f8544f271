import {
  MAX_GAP_SEGMENTS,
  parseMediaFileName,
  parseMediaPlaylist,
  playlistRun,
  renderMediaPlaylist,
  SrpError,
  targetDurationOf,
} from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";

const seg = (seq: number, init = 0, durationMs = 1000) => ({
  seq,
  init,
  durationMs,
  producedAt: 1_700_000_000_000 + seq * 1000,
});

describe("media playlists", () => {
  it("render standard fMP4 HLS that parses back", () => {
    const text = renderMediaPlaylist({ segments: [seg(5), seg(6), seg(7, 0, 1500)], ended: false });
    expect(text).toContain("#EXT-X-VERSION:7");
    expect(text).toContain('#EXT-X-MAP:URI="init-0.mp4"');
    const p = parseMediaPlaylist(text);
    expect(p.mediaSequence).toBe(5);
    expect(p.targetDurationS).toBe(2);
    expect(p.segments.map((s) => [s.uri, s.durationS, s.mediaSequence])).toEqual([
      ["seg-5.m4s", 1, 5],
      ["seg-6.m4s", 1, 6],
      ["seg-7.m4s", 1.5, 7],
    ]);
    expect(p.ended).toBe(false);
  });

  it("take the target duration as the longest segment rounded to the nearest second (RFC 8216 4.3.3.1), not up", () => {
    expect(targetDurationOf([1000, 1021, 980])).toBe(1);
    expect(targetDurationOf([1000, 1500])).toBe(2);
    expect(targetDurationOf([])).toBe(1);
    const p = parseMediaPlaylist(
      renderMediaPlaylist({ segments: [seg(1, 0, 1021), seg(2, 0, 990)], ended: false }),
    );
    expect(p.targetDurationS).toBe(1);
    for (const s of p.segments) expect(Math.round(s.durationS)).toBeLessThanOrEqual(p.targetDurationS);
  });

  it("mark a reconnect as a discontinuity with the new init", () => {
    const p = parseMediaPlaylist(
      renderMediaPlaylist({ segments: [seg(1, 0), seg(2, 1), seg(3, 1)], ended: true }),
    );
    expect(p.discontinuitySequence).toBe(0);
    expect(p.segments.map((s) => [s.discontinuity, s.mapUri])).toEqual([
      [false, "init-0.mp4"],
      [true, "init-1.mp4"],
      [false, "init-1.mp4"],
    ]);
    expect(p.ended).toBe(true);
  });

  it("list only the newest broadcast after a restart's seq jump: every file under its own number", () => {
    const p = parseMediaPlaylist(
      renderMediaPlaylist({ segments: [seg(7, 0), seg(8, 0), seg(100, 1), seg(101, 1)], ended: false }),
    );
    expect(p.mediaSequence).toBe(100);
    expect(p.discontinuitySequence).toBe(1);
    expect(p.segments.map((s) => [s.uri, s.mediaSequence])).toEqual([
      ["seg-100.m4s", 100],
      ["seg-101.m4s", 101],
    ]);
  });

  it("list a segment missing inside one broadcast as EXT-X-GAP, and cut a longer hole", () => {
    const text = renderMediaPlaylist({ segments: [seg(5), seg(7), seg(8)], ended: false });
    const p = parseMediaPlaylist(text);
    expect(p.segments.map((s) => [s.uri, s.mediaSequence, s.gap])).toEqual([
      ["seg-5.m4s", 5, false],
      ["seg-6.m4s", 6, true],
      ["seg-7.m4s", 7, false],
      ["seg-8.m4s", 8, false],
    ]);
    const far = playlistRun([seg(1), seg(3 + MAX_GAP_SEGMENTS), seg(4 + MAX_GAP_SEGMENTS)]);
    expect(far.map((s) => s.seq)).toEqual([3 + MAX_GAP_SEGMENTS, 4 + MAX_GAP_SEGMENTS]);
    // Out of order input never yields a backwards number.
    expect(playlistRun([seg(9), seg(4), seg(5)]).map((s) => s.seq)).toEqual([4, 5]);
  });

  it("count discontinuities before the window by init version", () => {
    const p = parseMediaPlaylist(renderMediaPlaylist({ segments: [seg(9, 3)], ended: false }));
    expect(p.discontinuitySequence).toBe(3);
  });

  it.each([
    ["no header", "#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.m4s\n"],
    ["no target duration", "#EXTM3U\n#EXTINF:1,\na.m4s\n"],
    ["truncated after EXTINF", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"],
    ["URI without EXTINF", "#EXTM3U\n#EXT-X-TARGETDURATION:1\na.m4s\n"],
    ["bad number", "#EXTM3U\n#EXT-X-TARGETDURATION:abc\n"],
    ["negative sequence", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:-4\n"],
    ["map without URI", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:BYTERANGE=1\n"],
    ["HTML error page", "<html><body>502 Bad Gateway</body></html>"],
  ])("reject a malformed playlist: %s", (_name, text) => {
    expect(() => parseMediaPlaylist(text)).toThrowError(SrpError);
    try {
      parseMediaPlaylist(text);
    } catch (err) {
      expect((err as SrpError).code).toBe("MALFORMED_PLAYLIST");
    }
  });
});

describe("media file names", () => {
  it("parse what relays serve and nothing else", () => {
    expect(parseMediaFileName("index.m3u8")).toEqual({ kind: "playlist" });
    expect(parseMediaFileName("init-2.mp4")).toEqual({ kind: "init", version: 2 });
    expect(parseMediaFileName("seg-123.m4s")).toEqual({ kind: "segment", seq: 123 });
    for (const bad of ["seg-.m4s", "seg-1.ts", "../etc/passwd", "init-x.mp4", "seg-1.m4s?x", "index.m3u"]) {
      expect(parseMediaFileName(bad)).toBeUndefined();
    }
  });
});
