import {
  blockingReloadReady,
  blockingReloadState,
  blockingWaitMs,
  type LiveEdge,
  MAX_BLOCK_MS,
  parseLowLatency,
  parseMediaPlaylist,
  parsePlaylistRequest,
  renderMediaPlaylist,
  SrpError,
} from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";

const q = (s: string) => parsePlaylistRequest(new URLSearchParams(s));
function code(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof SrpError ? err.code : "other";
  }
}

describe("LL-HLS delivery directives", () => {
  it("parse ll=1, _HLS_msn, _HLS_part, _HLS_skip; only ll=1 or a directive asks for LL-HLS", () => {
    expect(q("")).toEqual({ lowLatency: false, block: undefined, skip: false });
    expect(q("ll=1")).toEqual({ lowLatency: true, block: undefined, skip: false });
    expect(q("_HLS_msn=5&_HLS_part=2&_HLS_skip=YES")).toEqual({
      lowLatency: true,
      block: { msn: 5, part: 2 },
      skip: true,
    });
    expect(q("ll=1&_HLS_msn=5&_HLS_skip=v2")).toEqual({
      lowLatency: true,
      block: { msn: 5, part: undefined },
      skip: true,
    });
  });

  it("refuse malformed directives with BAD_REQUEST (400)", () => {
    for (const bad of [
      "_HLS_part=1",
      "_HLS_msn=-1",
      "_HLS_msn=1e3",
      "_HLS_msn=1&_HLS_part=x",
      "_HLS_skip=NO",
      "ll=0",
      "ll=",
    ]) {
      expect(code(() => q(bad))).toBe("BAD_REQUEST");
    }
    expect(new SrpError("BAD_REQUEST", "").status).toBe(400);
    expect(new SrpError("RELOAD_TIMEOUT", "").status).toBe(503);
  });

  const edge: LiveEdge = { lastMsn: 10, partsOfLast: 5, partsOfNext: 2, ended: false };
  it("blockingReloadState never throws: what a blocked request re-checks on every change", () => {
    const state = (msn: number, part?: number) => blockingReloadState({ msn, part }, edge);
    expect(state(13)).toBe("too-far");
    expect(state(11, 5)).toBe("too-far");
    expect(state(11, 1)).toBe("ready");
    expect(state(11, 2)).toBe("wait");
    expect(state(12)).toBe("wait");
    expect(blockingReloadState({ msn: 99, part: undefined }, { ...edge, ended: true })).toBe("ready");
  });

  it("answer when the asked segment or part is there, wait otherwise", () => {
    const ready = (msn: number, part?: number) => blockingReloadReady({ msn, part }, edge);
    expect(ready(9)).toBe(true);
    expect(ready(10)).toBe(true);
    expect(ready(10, 4)).toBe(true);
    expect(ready(10, 7)).toBe(true); // past the last part of 10 = part 0 of 11, which exists
    expect(ready(11, 1)).toBe(true);
    expect(ready(11, 2)).toBe(false);
    expect(ready(11)).toBe(false); // the whole segment 11
    expect(ready(12, 0)).toBe(false);
    expect(blockingReloadReady({ msn: 11, part: 2 }, { ...edge, ended: true })).toBe(true);
  });

  it("bound every blocked wait, whatever the target duration claims", () => {
    expect(blockingWaitMs(1)).toBe(3_000);
    expect(blockingWaitMs(4)).toBe(12_000);
    expect(blockingWaitMs(99_999)).toBe(MAX_BLOCK_MS);
    expect(blockingWaitMs(0)).toBe(3_000);
  });

  it("refuse requests too far ahead with BAD_REQUEST", () => {
    expect(code(() => blockingReloadReady({ msn: 13, part: undefined }, edge))).toBe("BAD_REQUEST");
    expect(code(() => blockingReloadReady({ msn: 11, part: 5 }, edge))).toBe("BAD_REQUEST");
    expect(code(() => blockingReloadReady({ msn: 12, part: undefined }, edge))).toBeUndefined();
    expect(code(() => blockingReloadReady({ msn: 11, part: 4 }, edge))).toBeUndefined();
  });
});

describe("LL-HLS playlists", () => {
  const segs = Array.from({ length: 12 }, (_, i) => ({
    seq: 100 + i,
    durationMs: 1000,
    init: 1,
    producedAt: 1_700_000_000_000 + i * 1000,
  }));
  const parts = new Map(
    segs.map((s) => [
      s.seq,
      Array.from({ length: 5 }, (_, j) => ({ durationMs: 200, independent: j === 0 })),
    ]),
  );
  const ll = {
    partTargetMs: 200,
    parts,
    inProgress: { seq: 112, init: 1, parts: [{ durationMs: 200, independent: true }] },
    skip: false,
  };

  it("carry server control, part info, parts of recent segments, the in-progress parts and a preload hint", () => {
    const text = renderMediaPlaylist({ segments: segs, ended: false, lowLatency: ll });
    const p = parseLowLatency(text);
    expect(text).toContain("#EXT-X-VERSION:9");
    expect(p.serverControl).toEqual({
      "CAN-BLOCK-RELOAD": "YES",
      "PART-HOLD-BACK": "0.600",
      "CAN-SKIP-UNTIL": "6.0",
    });
    expect(p.partTargetS).toBe(0.2);
    // Parts for the last 3 target durations (3 segments) plus the in-progress one.
    expect(p.parts.map((x) => x.uri)).toEqual([
      ...[109, 110, 111].flatMap((s) => [0, 1, 2, 3, 4].map((j) => `part-${s}.${j}.m4s`)),
      "part-112.0.m4s",
    ]);
    expect(p.parts[0]?.independent).toBe(true);
    expect(p.preloadHint).toBe("part-112.1.m4s");
    expect(parseMediaPlaylist(text).segments).toHaveLength(12);
  });

  it("a delta update skips segments before the skip boundary and keeps sequence numbers", () => {
    const text = renderMediaPlaylist({ segments: segs, ended: false, lowLatency: { ...ll, skip: true } });
    const parsed = parseMediaPlaylist(text);
    expect(parseLowLatency(text).skipped).toBe(6);
    expect(parsed.segments.map((s) => s.mediaSequence)).toEqual([106, 107, 108, 109, 110, 111]);
    expect(parsed.segments[0]?.uri).toBe("seg-106.m4s");
  });

  it("a delta update keeps the discontinuity between the last skipped segment and the first listed one", () => {
    const mixed = segs.map((s) => ({ ...s, init: s.seq >= 106 ? 2 : 1 }));
    const text = renderMediaPlaylist({
      segments: mixed,
      ended: false,
      lowLatency: { ...ll, skip: true, inProgress: { seq: 112, init: 2, parts: [] } },
    });
    const parsed = parseMediaPlaylist(text);
    expect(parseLowLatency(text).skipped).toBe(6);
    expect(parsed.discontinuitySequence).toBe(1);
    expect(parsed.segments[0]).toMatchObject({
      uri: "seg-106.m4s",
      discontinuity: true,
      mapUri: "init-2.mp4",
    });
    // Same init on both sides of the boundary: the map again, no discontinuity.
    const same = renderMediaPlaylist({ segments: segs, ended: false, lowLatency: { ...ll, skip: true } });
    expect(parseMediaPlaylist(same).segments[0]).toMatchObject({
      discontinuity: false,
      mapUri: "init-1.mp4",
    });
  });

  it("no preload hint past the most parts a segment may have", () => {
    const full = Array.from({ length: 64 }, () => ({ durationMs: 200, independent: false }));
    const text = renderMediaPlaylist({
      segments: segs,
      ended: false,
      lowLatency: { ...ll, inProgress: { seq: 112, init: 1, parts: full } },
    });
    expect(parseLowLatency(text).preloadHint).toBeUndefined();
    expect(parseLowLatency(text).parts.at(-1)?.uri).toBe("part-112.63.m4s");
  });

  it("an ended stream has no hint and no in-progress parts; plain HLS has no LL tags", () => {
    const ended = renderMediaPlaylist({ segments: segs, ended: true, lowLatency: ll });
    expect(parseLowLatency(ended).preloadHint).toBeUndefined();
    expect(ended).not.toContain("part-112");
    const plain = renderMediaPlaylist({ segments: segs, ended: false });
    expect(plain).not.toContain("#EXT-X-PART");
    expect(plain).toContain("#EXT-X-VERSION:7");
  });
});
