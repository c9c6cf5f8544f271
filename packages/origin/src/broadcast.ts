import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import type { TranscodedRung } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { BroadcastStateStore } from "./broadcast-state.ts";
import { RUNG_FD } from "./ffmpeg.ts";
import type { IngestPublisher } from "./publisher.ts";
import { RenditionAligner } from "./rendition-aligner.ts";
import { type CutSegment, Segmenter } from "./segmenter.ts";

export interface BroadcastStats {
  live: boolean;
  /** Next media sequence number. */
  nextSeq: number;
  initVersion: number;
  segments: number;
  lastSegmentAt: number | undefined;
  /** rung → segments published for it (transcoded rungs only). */
  rungSegments: Record<string, number>;
}

export interface BroadcastTiming {
  segmentTargetMs: number; // ms
  /** Announced in every part attestation; fragments are cut about this long. */
  partTargetMs: number; // ms
}

/** Sequence numbers reserved (durably) per write: one fsync per this many segments. */
const SEQ_RESERVE_BLOCK = 100;
/**
 * A rung's keyframe this close (ms) to the source's is the same frame. The
 * outputs of one ffmpeg differ by a constant: AAC encoder priming shifts a
 * rung's timeline (1024 samples: 21-23 ms), and timescales round. Source
 * keyframes are far further apart than this.
 */
const ALIGN_TOLERANCE_MS = 150;
/** GOPs or source boundaries a rung may be behind by before its oldest are given up. */
const ALIGN_MAX_PENDING = 32;

/**
 * One stream's broadcast state across publishes and origin restarts. Sequence
 * numbers keep counting across reconnects and each publish gets a new init
 * version, so relays render a discontinuity, not a new stream; both are
 * reserved in the state store before they are signed, so a restarted origin
 * (even after kill -9) never signs an (init, seq) pair twice.
 */
export class Broadcast {
  readonly streamId: string;
  readonly #publisher: IngestPublisher;
  readonly #log: Logger;
  readonly #timing: BroadcastTiming;
  readonly #endGraceMs: number;
  readonly #state: BroadcastStateStore;
  #nextSeq: number;
  #initVersion: number;
  /** Numbers below this are reserved in the state store. */
  #seqLimit: number;
  #segments = 0;
  readonly #rungs: readonly TranscodedRung[];
  readonly #rungSegments = new Map<string, number>();
  #lastSegmentAt: number | undefined;
  #live: ChildProcess | undefined;
  #endTimer: NodeJS.Timeout | undefined;
  /** Keeps signing (and so each relay's queue) in segment order; pushing never blocks it. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    streamId: string,
    publisher: IngestPublisher,
    log: Logger,
    timing: BroadcastTiming,
    endGraceMs: number,
    state: BroadcastStateStore,
    rungs: readonly TranscodedRung[] = [],
  ) {
    this.streamId = streamId;
    this.#rungs = rungs;
    this.#state = state;
    const start = state.load();
    this.#nextSeq = start.nextSeq;
    this.#seqLimit = start.nextSeq;
    this.#initVersion = start.initVersion;
    this.#publisher = publisher;
    this.#log = log;
    this.#timing = timing;
    this.#endGraceMs = endGraceMs;
  }

  get live(): boolean {
    return this.#live !== undefined;
  }

  get stats(): BroadcastStats {
    return {
      live: this.live,
      nextSeq: this.#nextSeq,
      initVersion: this.#initVersion,
      segments: this.#segments,
      lastSegmentAt: this.#lastSegmentAt,
      rungSegments: Object.fromEntries(this.#rungSegments),
    };
  }

  /** Everything signed so far has been tried on every relay. */
  async settled(): Promise<void> {
    await this.#chain;
    await this.#publisher.idle();
  }

  #enqueue(task: () => Promise<unknown>): void {
    this.#chain = this.#chain
      .then(task)
      .catch((err: unknown) => this.#log.error("publish failed", { streamId: this.streamId, err }));
  }

  /**
   * Takes a packager process (fMP4 on stdout) as the stream's live source.
   * `firstChunk` is output already read from it (a listener that waited for
   * the first byte). Returns false when the stream is already live.
   */
  attach(ffmpeg: ChildProcess, firstChunk?: Buffer): boolean {
    if (this.#live) return false;
    clearTimeout(this.#endTimer);
    this.#live = ffmpeg;
    let initVersion = -1;
    /** Rung inits that came before the source's (their version is the source's). */
    const early = new Map<string, Buffer>();
    const rungs = this.#rungs.map((rung, i) =>
      this.#attachRung(ffmpeg, rung, RUNG_FD + i, (bytes) => {
        if (initVersion < 0) early.set(rung.name, bytes);
        else this.#publishRungInit(rung.name, initVersion, bytes);
      }),
    );
    const { partTargetMs } = this.#timing;
    const segmenter = new Segmenter(this.#timing.segmentTargetMs, {
      onInit: (bytes) => {
        initVersion = ++this.#initVersion;
        this.#state.reserve(this.#seqLimit, initVersion);
        this.#enqueue(() => this.#publisher.publishInit(initVersion, bytes));
        for (const [name, b] of early) this.#publishRungInit(name, initVersion, b);
        early.clear();
      },
      // Parts belong to the segment in progress: its number is the next one, reserved before signing.
      onPart: (part) => {
        if (initVersion < 0) return;
        const seq = this.#reserve(this.#nextSeq);
        this.#enqueue(() => this.#publisher.publishPart(seq, initVersion, part, partTargetMs));
      },
      onSegment: (seg) => {
        if (initVersion < 0) return;
        const seq = this.#reserve(this.#nextSeq++);
        this.#segments += 1;
        this.#lastSegmentAt = Date.now();
        this.#enqueue(() => this.#publisher.publishSegment(seq, initVersion, seg.bytes, seg.durationMs));
        // Each rung's segment `seq` spans exactly this one (a rung that is ahead emits it now).
        const boundary = { seq, startMs: seg.startMs, endMs: seg.startMs + seg.durationMs };
        for (const r of rungs) {
          r.init = initVersion;
          r.aligner.addBoundary(boundary);
        }
      },
    });
    const onData = (chunk: Buffer) => {
      try {
        segmenter.push(chunk);
      } catch (err) {
        this.#log.error("packager output is not fMP4; stopping this publish", {
          streamId: this.streamId,
          err,
        });
        ffmpeg.kill("SIGKILL");
      }
    };
    if (firstChunk) onData(firstChunk);
    ffmpeg.stdout?.on("data", onData);

    ffmpeg.once("close", () => {
      try {
        segmenter.flush();
      } catch (err) {
        this.#log.warn("last segment lost", { streamId: this.streamId, err });
      }
      for (const r of rungs) r.close();
      this.#live = undefined;
      this.#scheduleEnd();
    });
    return true;
  }

  #publishRungInit(rung: string, version: number, bytes: Buffer): void {
    this.#enqueue(() => this.#publisher.publishInit(version, bytes, rung));
  }

  /**
   * Reads one transcoded rung from its pipe: its own segmenter cuts a GOP at
   * every keyframe, and an aligner joins them into segments with the
   * source's boundaries and sequence numbers (see RenditionAligner).
   */
  #attachRung(ffmpeg: ChildProcess, rung: TranscodedRung, fd: number, onInit: (bytes: Buffer) => void) {
    const state = { init: -1, aligner: undefined as unknown as RenditionAligner, close: () => {} };
    state.aligner = new RenditionAligner(
      { toleranceMs: ALIGN_TOLERANCE_MS, maxPending: ALIGN_MAX_PENDING },
      (s) => {
        const init = state.init;
        if (init < 0) return;
        this.#rungSegments.set(rung.name, (this.#rungSegments.get(rung.name) ?? 0) + 1);
        this.#enqueue(() => this.#publisher.publishSegment(s.seq, init, s.bytes, s.durationMs, rung.name));
      },
      (seq) =>
        this.#log.warn("rung has no aligned segment; skipped", {
          streamId: this.streamId,
          rung: rung.name,
          seq,
        }),
    );
    const segmenter = new Segmenter(0, {
      onInit: (bytes) => onInit(bytes),
      onSegment: (gop: CutSegment) => state.aligner.addGop(gop),
    });
    const out = ffmpeg.stdio[fd] as Readable | null | undefined;
    let broken = false;
    out?.on("data", (chunk: Buffer) => {
      if (broken) return;
      try {
        segmenter.push(chunk);
      } catch (err) {
        // One rung's bad output loses that rung, never the source.
        broken = true;
        this.#log.error("rung output is not fMP4; dropping this rung", {
          streamId: this.streamId,
          rung: rung.name,
          err,
        });
      }
    });
    state.close = () => {
      try {
        if (!broken) segmenter.flush();
        state.aligner.flush();
      } catch (err) {
        this.#log.warn("last rung segment lost", { streamId: this.streamId, rung: rung.name, err });
      }
    };
    return state;
  }

  /** Makes sure `seq` is below the durably reserved limit before anything is signed with it. */
  #reserve(seq: number): number {
    if (seq >= this.#seqLimit) {
      this.#seqLimit = seq + SEQ_RESERVE_BLOCK;
      this.#state.reserve(this.#seqLimit, this.#initVersion);
    }
    return seq;
  }

  #scheduleEnd(): void {
    clearTimeout(this.#endTimer);
    this.#endTimer = setTimeout(() => {
      if (this.#live || this.#segments === 0) return;
      const lastSeq = this.#nextSeq - 1;
      this.#enqueue(() => this.#publisher.publishEnd(lastSeq));
      this.#log.info("broadcast ended", { streamId: this.streamId, lastSeq });
    }, this.#endGraceMs);
  }

  /** Stops the live source now (shutdown). */
  async stop(): Promise<void> {
    const proc = this.#live;
    if (proc) {
      const closed = new Promise((resolve) => proc.once("close", resolve));
      proc.kill("SIGTERM");
      await closed;
    }
    clearTimeout(this.#endTimer);
  }
}
