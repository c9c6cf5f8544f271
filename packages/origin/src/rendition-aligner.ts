import type { CutSegment } from "./segmenter.ts";

/** A source segment's place on the stream's clock: what a rung's segment with the same seq must cover. */
export interface Boundary {
  seq: number;
  startMs: number;
  endMs: number;
}

export interface AlignedSegment {
  seq: number;
  bytes: Buffer;
  durationMs: number;
}

export interface AlignerOptions {
  /**
   * How far apart (ms) a rung's keyframe and the source's may be and still
   * be the same instant: the copy and the encode of one frame carry the same
   * timestamp, so this only absorbs rounding between timescales.
   */
  toleranceMs: number;
  /** Pending GOPs or boundaries kept at most (a rung that stalls cannot grow the origin's memory). */
  maxPending: number;
}

/**
 * Cuts a transcoded rung into segments with exactly the source's boundaries
 * and sequence numbers. The rung's encoder forces a keyframe at every source
 * keyframe (ffmpeg `-force_key_frames source`), its segmenter hands over one
 * GOP at a time, and this joins the GOPs that fall inside each source
 * segment. So segment N of every rung starts at the same instant: a player
 * switching rungs at a segment boundary never skips or repeats a frame. A
 * source segment the rung has no aligned GOPs for (its encoder started late,
 * or fell behind past `maxPending`) is skipped for that rung, reported once.
 */
export class RenditionAligner {
  readonly #o: AlignerOptions;
  readonly #emit: (segment: AlignedSegment) => void;
  readonly #onSkip: (seq: number) => void;
  #boundaries: Boundary[] = [];
  #gops: CutSegment[] = [];

  constructor(options: AlignerOptions, emit: (s: AlignedSegment) => void, onSkip: (seq: number) => void) {
    this.#o = options;
    this.#emit = emit;
    this.#onSkip = onSkip;
  }

  /** The source cut a segment: the rung's segment with this seq covers the same span. */
  addBoundary(b: Boundary): void {
    this.#boundaries.push(b);
    while (this.#boundaries.length > this.#o.maxPending) {
      const dropped = this.#boundaries.shift();
      if (dropped) this.#onSkip(dropped.seq);
    }
    this.#drain(false);
  }

  /** The rung's segmenter finished a GOP (a segmenter with target 0 cuts at every keyframe). */
  addGop(gop: CutSegment): void {
    this.#gops.push(gop);
    if (this.#gops.length > this.#o.maxPending) this.#gops.shift();
    this.#drain(false);
  }

  /** The rung's output ended: what is held is the last segment. */
  flush(): void {
    this.#drain(true);
  }

  #drain(final: boolean): void {
    const tol = this.#o.toleranceMs;
    while (this.#boundaries.length > 0) {
      const b = this.#boundaries[0] as Boundary;
      // GOPs from before this segment (before the first source segment, or of a skipped one) go.
      while (this.#gops[0] && (this.#gops[0] as CutSegment).startMs < b.startMs - tol) this.#gops.shift();
      // Complete once a held GOP reaches the segment's end (a GOP is cut when the next keyframe arrives).
      const last = this.#gops.findIndex((g) => g.startMs + g.durationMs >= b.endMs - tol);
      if (last === -1 && !final) return;
      const after = this.#gops.findIndex((g) => g.startMs >= b.endMs - tol);
      const take = last !== -1 ? last + 1 : after === -1 ? this.#gops.length : after;
      const parts = this.#gops.splice(0, take);
      this.#boundaries.shift();
      const first = parts[0];
      if (!first || Math.abs(first.startMs - b.startMs) > tol) {
        this.#onSkip(b.seq);
        continue;
      }
      this.#emit({
        seq: b.seq,
        bytes: Buffer.concat(parts.map((p) => p.bytes)),
        durationMs: Math.round(parts.reduce((n, p) => n + p.durationMs, 0)),
      });
    }
  }
}
