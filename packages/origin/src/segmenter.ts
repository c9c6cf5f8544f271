import { MAX_PARTS_PER_SEGMENT, SrpError } from "@streamrp2p/protocol";
import { type Box, BoxReader, parseMoof, parseMoov, type TrackInfo } from "./fmp4.ts";

export interface CutSegment {
  bytes: Buffer;
  durationMs: number;
  /** Decode time of its first sample, ms on the stream's clock: renditions of one ffmpeg share it. */
  startMs: number;
  /** Fragment (moof+mdat) boundaries inside `bytes`, kept for low-latency parts. */
  fragmentOffsets: number[];
}

/** One fragment of the segment in progress: a Low-Latency HLS part. */
export interface CutPart {
  /** Index within its segment, from 0. */
  index: number;
  bytes: Buffer;
  durationMs: number;
  /** Starts with a keyframe (the first part of every segment does). */
  independent: boolean;
}

export interface SegmenterEvents {
  onInit(bytes: Buffer, tracks: TrackInfo[]): void;
  /**
   * A fragment of the segment in progress, as soon as it is complete. A
   * segment's parts always come before the segment itself; a segment with
   * more than MAX_PARTS_PER_SEGMENT fragments has parts for the first ones only.
   */
  onPart?(part: CutPart): void;
  onSegment(segment: CutSegment): void;
}

/**
 * Cuts ffmpeg's fragmented MP4 into CMAF HLS segments: the init segment
 * (ftyp+moov), then media segments of at least `targetMs`, each starting at
 * a video keyframe, made of whole fragments; each fragment is also a part.
 */
export class Segmenter {
  readonly #reader = new BoxReader();
  readonly #targetMs: number;
  readonly #events: SegmenterEvents;
  #initParts: Buffer[] = [];
  #tracks: TrackInfo[] | undefined;
  #clock: TrackInfo | undefined;
  #parts: Buffer[] = [];
  #offsets: number[] = [];
  #size = 0;
  #duration = 0; // in the clock track's timescale
  #start = 0; // decode time of the first fragment, in the clock track's timescale
  #pendingMoof: { box: Box; keyframe: boolean; duration: number; decodeTime: number } | undefined;

  constructor(targetMs: number, events: SegmenterEvents) {
    this.#targetMs = targetMs;
    this.#events = events;
  }

  push(chunk: Buffer): void {
    for (const box of this.#reader.push(chunk)) this.#onBox(box);
  }

  /** The stream ended: emits what is left as the last segment. */
  flush(): void {
    this.#emit();
  }

  #onBox(box: Box): void {
    switch (box.type) {
      case "ftyp":
        this.#initParts = [box.bytes];
        return;
      case "moov": {
        this.#tracks = parseMoov(box);
        this.#clock = this.#tracks.find((t) => t.kind === "video") ?? this.#tracks[0];
        if (!this.#clock) throw new SrpError("BAD_REQUEST", "fMP4: moov has no tracks");
        this.#events.onInit(Buffer.concat([...this.#initParts, box.bytes]), this.#tracks);
        return;
      }
      case "moof": {
        if (!this.#clock) throw new SrpError("BAD_REQUEST", "fMP4: moof before moov");
        const info = parseMoof(box, this.#clock);
        const isVideo = this.#clock.kind === "video";
        this.#pendingMoof = {
          box,
          keyframe: isVideo ? (info?.startsWithKeyframe ?? false) : true,
          duration: info?.duration ?? 0,
          decodeTime: info?.baseDecodeTime ?? 0,
        };
        return;
      }
      case "mdat": {
        const moof = this.#pendingMoof;
        if (!moof) return; // stray mdat: nothing refers to it
        this.#pendingMoof = undefined;
        if (moof.keyframe && this.#size > 0 && this.#durationMs() >= this.#targetMs) this.#emit();
        if (this.#size === 0 && !moof.keyframe) {
          // A segment must start on a keyframe; fragments before the first one cannot be decoded alone.
          return;
        }
        if (this.#size === 0) this.#start = moof.decodeTime;
        this.#offsets.push(this.#size);
        this.#parts.push(moof.box.bytes, box.bytes);
        this.#size += moof.box.bytes.length + box.bytes.length;
        this.#duration += moof.duration;
        this.#emitPart(moof.box.bytes, box.bytes, moof.duration, moof.keyframe);
        return;
      }
      default:
        return; // styp, sidx, mfra, free: not needed for HLS
    }
  }

  #emitPart(moof: Buffer, mdat: Buffer, duration: number, keyframe: boolean): void {
    const index = this.#offsets.length - 1;
    if (!this.#events.onPart || !this.#clock || index >= MAX_PARTS_PER_SEGMENT) return;
    this.#events.onPart({
      index,
      bytes: Buffer.concat([moof, mdat]),
      durationMs: Math.round((duration * 1000) / this.#clock.timescale),
      independent: keyframe,
    });
  }

  #durationMs(): number {
    return this.#clock ? (this.#duration * 1000) / this.#clock.timescale : 0;
  }

  #emit(): void {
    if (this.#size === 0) return;
    const segment = {
      bytes: Buffer.concat(this.#parts, this.#size),
      durationMs: Math.round(this.#durationMs()),
      startMs: this.#clock ? (this.#start * 1000) / this.#clock.timescale : 0,
      fragmentOffsets: this.#offsets,
    };
    this.#parts = [];
    this.#offsets = [];
    this.#size = 0;
    this.#duration = 0;
    this.#events.onSegment(segment);
  }
}
