import {
  isInitRendition,
  MAX_RUNGS,
  type PlaylistSegment,
  renderMediaPlaylist,
  rungPath,
  SOURCE_RUNG,
  SrpError,
  type StreamEnd,
  type StreamWindow,
} from "@streamrp2p/protocol";
import type { MediaObject } from "./media-object.ts";
import { renderLadder } from "./multivariant.ts";

export interface LiveStreamOptions {
  maxSegments: number;
  playlistSegments: number;
  /** Long polls that may wait on one stream at once; more are refused (UNAVAILABLE). */
  maxWaitersPerStream: number;
}

type Waiter = { minSeq: number; wake: () => void };

/**
 * Told of every change to a window, in order: how a relay's primary process
 * replicates its windows to the worker processes that serve them (workers/).
 */
export interface WindowObserver {
  opened(stream: LiveStream): void;
  put(stream: LiveStream, obj: MediaObject, kind: "init" | "segment"): void;
  removed(stream: LiveStream, obj: MediaObject, kind: "init" | "segment"): void;
  ended(stream: LiveStream, end: StreamEnd | null): void;
  dropped(streamId: string): void;
}

/**
 * One stream's live window on a relay: inits, the last N segments, the end
 * marker, and the waiters of long polls. Bounded: old segments are evicted.
 */
export class LiveStream {
  readonly streamId: string;
  readonly signer: string;
  /** The ladder rung this window holds: SOURCE_RUNG for the stream itself. */
  readonly rung: string;
  /** The source's window, for a transcoded rung's (which ends when it ends). */
  readonly #parent: LiveStream | undefined;
  /** rung → its window (the source's window only): bounded by the ladder's size. */
  readonly #renditions = new Map<string, LiveStream>();
  readonly #options: LiveStreamOptions;
  readonly #inits = new Map<number, MediaObject>();
  /** Ascending by seq. */
  readonly #segments = new Map<number, MediaObject>();
  #end: StreamEnd | null = null;
  #playlist: string | undefined;
  /** A set: a timed-out waiter leaves in O(1), a change wakes the ready ones in one pass. */
  readonly #waiters = new Set<Waiter>();
  readonly #now: () => number;
  #lastChangeAt: number;
  /** Where the bytes come from: "push" for ingest, else the upstream node id. */
  source: "push" | string = "push";

  readonly #observer: WindowObserver | undefined;

  constructor(
    streamId: string,
    signer: string,
    options: LiveStreamOptions,
    now: () => number = Date.now,
    observer?: WindowObserver,
    rendition?: { rung: string; parent: LiveStream },
  ) {
    this.streamId = streamId;
    this.signer = signer;
    this.rung = rendition?.rung ?? SOURCE_RUNG;
    this.#parent = rendition?.parent;
    this.#options = options;
    this.#now = now;
    this.#lastChangeAt = now();
    this.#observer = observer;
  }

  /** Where this window's files are under `/live/`: the stream id, or `streamId/rung`. */
  get path(): string {
    return rungPath(this.streamId, this.rung);
  }

  /** A transcoded rung's window, if held (source window only). */
  rendition(rung: string): LiveStream | undefined {
    return this.#renditions.get(rung);
  }

  /** The rungs held besides the source, by name. */
  get renditions(): ReadonlyMap<string, LiveStream> {
    return this.#renditions;
  }

  /**
   * A transcoded rung's window, created when new (once a verified object for
   * it arrived, or a window named it). At most MAX_RUNGS - 1 per stream:
   * junk rung names cannot grow a relay's state. Throws UNAVAILABLE beyond.
   * Workers do not replicate rungs (no observer): a relay with workers serves
   * them from its primary.
   */
  openRendition(rung: string): LiveStream {
    if (this.#parent) throw new SrpError("BAD_REQUEST", "a rung has no rungs");
    const held = this.#renditions.get(rung);
    if (held) return held;
    if (this.#renditions.size >= MAX_RUNGS - 1)
      throw new SrpError("UNAVAILABLE", `stream ${this.streamId} already has ${MAX_RUNGS - 1} rungs`);
    const w = new LiveStream(this.streamId, this.signer, this.#options, this.#now, undefined, {
      rung,
      parent: this,
    });
    this.#renditions.set(rung, w);
    return w;
  }

  /** Inits by version, then segments by seq: everything held, in the order a copy must be built in. */
  *objects(): IterableIterator<[MediaObject, "init" | "segment"]> {
    for (const version of [...this.#inits.keys()].sort((a, b) => a - b))
      yield [this.#inits.get(version) as MediaObject, "init"];
    for (const obj of this.#segments.values()) yield [obj, "segment"];
  }

  /** When the window last changed (ms, the injected clock): idle streams are evicted by it. */
  get lastChangeAt(): number {
    return this.#lastChangeAt;
  }

  /** Long polls waiting now. */
  get waiters(): number {
    return this.#waiters.size;
  }

  get end(): StreamEnd | null {
    return this.#parent ? this.#parent.end : this.#end;
  }

  /** Newest seq held, or -1. */
  get liveEdgeSeq(): number {
    let last = -1;
    for (const seq of this.#segments.keys()) last = seq;
    return last;
  }

  getInit(version: number): MediaObject | undefined {
    return this.#inits.get(version);
  }

  getSegment(seq: number): MediaObject | undefined {
    return this.#segments.get(seq);
  }

  hasInit(version: number): boolean {
    return this.#inits.has(version);
  }

  putInit(obj: MediaObject): void {
    this.#inits.set(obj.init, obj);
    this.#observer?.put(this, obj, "init");
    this.#changed();
  }

  /** Adds a segment (in order or late); evicts the oldest beyond maxSegments. */
  putSegment(obj: MediaObject): void {
    const seq = obj.attestation.seq;
    const outOfOrder = seq < this.liveEdgeSeq;
    this.#segments.set(seq, obj);
    if (outOfOrder) {
      const sorted = [...this.#segments.entries()].sort((a, b) => a[0] - b[0]);
      this.#segments.clear();
      for (const [k, v] of sorted) this.#segments.set(k, v);
    }
    while (this.#segments.size > this.#options.maxSegments) {
      const oldest = this.#segments.keys().next().value as number;
      this.#segments.delete(oldest);
    }
    this.#evictUnusedInits();
    this.#observer?.put(this, obj, "segment");
    this.#changed();
  }

  /** Forgets a failed object so that it can be fetched or pushed again. */
  remove(obj: MediaObject): void {
    if (this.#segments.get(obj.attestation.seq) === obj) {
      this.#segments.delete(obj.attestation.seq);
      this.#observer?.removed(this, obj, "segment");
    }
    if (isInitRendition(obj.attestation.rendition) && this.#inits.get(obj.init) === obj) {
      this.#inits.delete(obj.init);
      this.#observer?.removed(this, obj, "init");
    }
    this.#changed();
  }

  setEnd(end: StreamEnd): void {
    this.#end = end;
    this.#observer?.ended(this, end);
    this.#changed();
  }

  /** A new broadcast after an end (reconnect): the stream is live again. */
  clearEnd(): void {
    if (this.#end) {
      this.#end = null;
      this.#observer?.ended(this, null);
      this.#changed();
    }
  }

  /** Inits no held segment needs go; the newest init always stays (the broadcast in progress needs it). */
  #evictUnusedInits(): void {
    const first = this.#segments.values().next().value as MediaObject | undefined;
    if (!first) return;
    const newest = Math.max(...this.#inits.keys());
    for (const version of this.#inits.keys()) {
      if (version < first.init && version !== newest) this.#inits.delete(version);
    }
  }

  /**
   * Rule for a new segment (pushed or announced): it needs an init this relay
   * holds, and it is not older than the full window (an old signed segment
   * replayed with another init must not rewrite what the window holds).
   * Throws INIT_NOT_HELD or CONFLICT.
   */
  checkNewSegment(seq: number, init: number): void {
    if (!this.#inits.has(init)) {
      throw new SrpError(
        "INIT_NOT_HELD",
        `segment ${seq} needs init ${init}, which this relay does not hold`,
      );
    }
    const oldest = this.#segments.keys().next().value as number | undefined;
    if (oldest !== undefined && this.#segments.size >= this.#options.maxSegments && seq < oldest) {
      throw new SrpError("CONFLICT", `segment ${seq} is older than the window (from ${oldest})`);
    }
  }

  #changed(): void {
    this.#playlist = undefined;
    this.#lastChangeAt = this.#now();
    if (this.#waiters.size === 0) return;
    const edge = this.liveEdgeSeq;
    for (const w of this.#waiters) {
      if (edge >= w.minSeq || this.#end) {
        this.#waiters.delete(w);
        w.wake();
      }
    }
  }

  /**
   * Resolves once a segment with seq >= minSeq exists, the stream ends, or after
   * timeoutMs. Throws UNAVAILABLE when the stream already has its limit of waiters.
   */
  waitFor(minSeq: number, timeoutMs: number): Promise<void> {
    if (this.liveEdgeSeq >= minSeq || this.#end) return Promise.resolve();
    if (this.#waiters.size >= this.#options.maxWaitersPerStream) {
      return Promise.reject(new SrpError("UNAVAILABLE", "too many requests waiting on this stream"));
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        minSeq,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve();
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Wakes every long poll (shutdown). */
  wakeAll(): void {
    const all = [...this.#waiters];
    this.#waiters.clear();
    for (const w of all) w.wake();
  }

  /** The viewer playlist; cached until the window changes. Lists in-flight segments: they stream as they arrive. */
  playlist(): string {
    if (this.#playlist !== undefined) return this.#playlist;
    const listed: PlaylistSegment[] = [];
    for (const obj of this.#segments.values()) {
      if (!this.#inits.has(obj.init)) continue;
      const a = obj.attestation;
      listed.push({ seq: a.seq, durationMs: a.durationMs, init: obj.init, producedAt: a.producedAt });
    }
    const window = listed.slice(-this.#options.playlistSegments);
    // A rung's playlist is not cached: the source's end (which ends it too) does not pass through here.
    const text = renderMediaPlaylist({ segments: window, ended: this.end !== null });
    if (!this.#parent) this.#playlist = text;
    return text;
  }

  /** The multivariant playlist of every rung held (source window only); undefined until the source plays. */
  masterPlaylist(): string | undefined {
    return renderLadder([this, ...this.#renditions.values()]);
  }

  /** Segments held, oldest first (their attestations say sizes and durations). */
  segments(): IterableIterator<MediaObject> {
    return this.#segments.values();
  }

  /** The newest init held whose bytes are all here. */
  newestCompleteInit(): MediaObject | undefined {
    let best: MediaObject | undefined;
    for (const o of this.#inits.values()) if (o.isComplete && (!best || o.init > best.init)) best = o;
    return best;
  }

  /** The relay-to-relay window, with every attestation; only segments after `afterSeq` when given. */
  window(afterSeq = -1): StreamWindow {
    const segments = [...this.#segments.values()]
      .filter((o) => o.attestation.seq > afterSeq)
      .map((o) => ({ init: o.init, attestation: o.attestation }));
    return {
      streamId: this.streamId,
      inits: [...this.#inits.values()].map((o) => o.attestation),
      segments,
      end: this.end,
      ...(this.#renditions.size > 0 ? { renditions: [...this.#renditions.keys()] } : {}),
    };
  }
}
