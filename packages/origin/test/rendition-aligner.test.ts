import { type AlignedSegment, RenditionAligner } from "@streamrp2p/origin";
import { describe, expect, it } from "vitest";

const gop = (startMs: number, durationMs: number, tag: string) => ({
  bytes: Buffer.from(tag),
  durationMs,
  startMs,
  fragmentOffsets: [0],
});

function aligner(maxPending = 32) {
  const out: AlignedSegment[] = [];
  const skipped: number[] = [];
  const a = new RenditionAligner(
    { toleranceMs: 150, maxPending },
    (s) => out.push(s),
    (seq) => skipped.push(seq),
  );
  return { a, out, skipped };
}

describe("RenditionAligner", () => {
  it("joins a rung's GOPs into segments with the source's boundaries and numbers, whichever arrives first", () => {
    const { a, out, skipped } = aligner();
    // The source's segments 7 and 8: 2 s and 1 s, starting at 1000 ms.
    a.addGop(gop(1_021, 1_000, "a")); // the rung's timeline is shifted ~21 ms (AAC priming)
    a.addBoundary({ seq: 7, startMs: 1_000, endMs: 3_000 });
    expect(out).toEqual([]); // segment 7 is not whole until a GOP reaches 3000
    a.addGop(gop(2_021, 1_000, "b"));
    expect(out.map((s) => [s.seq, s.bytes.toString(), s.durationMs])).toEqual([[7, "ab", 2_000]]);
    a.addBoundary({ seq: 8, startMs: 3_000, endMs: 4_000 });
    a.addGop(gop(3_021, 1_000, "c"));
    expect(out.map((s) => s.seq)).toEqual([7, 8]);
    expect(skipped).toEqual([]);
  });

  it("drops GOPs from before the first boundary and skips a segment it has no aligned GOP for", () => {
    const { a, out, skipped } = aligner();
    a.addGop(gop(0, 500, "early")); // before the source's first keyframe
    a.addBoundary({ seq: 0, startMs: 500, endMs: 1_500 });
    a.addGop(gop(900, 600, "misaligned")); // starts 400 ms into the segment: not the source's keyframe
    a.addBoundary({ seq: 1, startMs: 1_500, endMs: 2_500 });
    a.addGop(gop(1_500, 1_000, "ok"));
    expect(skipped).toEqual([0]);
    expect(out.map((s) => [s.seq, s.bytes.toString()])).toEqual([[1, "ok"]]);
  });

  it("emits what it holds at the end of the stream, and stays bounded when a rung stalls", () => {
    const { a, out } = aligner();
    a.addBoundary({ seq: 3, startMs: 0, endMs: 1_000 });
    a.addGop(gop(0, 900, "last")); // ffmpeg ended before the GOP reached the boundary
    a.flush();
    expect(out.map((s) => s.seq)).toEqual([3]);
    const b = aligner(4);
    for (let i = 0; i < 10; i++) b.a.addBoundary({ seq: i, startMs: i * 1000, endMs: i * 1000 + 1000 });
    expect(b.skipped).toEqual([0, 1, 2, 3, 4, 5]); // only the newest 4 wait for the rung
    b.a.addGop(gop(6_000, 1_000, "late"));
    expect(b.out.map((s) => s.seq)).toEqual([6]);
  });
});
