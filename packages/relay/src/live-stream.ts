import {
  ADVANCE_SEGMENT_LIMIT,
  isInitRendition,
  type LiveEdge,
  type LowLatencyInput,
  MAX_RUNGS,
  type PartAttestation,
  type PlaylistPart,
  type PlaylistSegment,
  renderMediaPlaylist,
  rungPath,
  SOURCE_RUNG,
  SrpError,
  type StreamEnd,
  type StreamWindow,
  targetDurationOf,
} from "@streamrp2p/protocol";
import type { MediaObject } from "./media-object.ts";
import { renderLadder } from "./multivariant.ts";
import { PARTS_KEPT_SEGMENTS, type PartObject, PartWindow } from "./part-window.ts";

export interface LiveStreamOptions {
  maxSegments: number;
  playlistSegments: number;
  /** Long polls that may wait on one stream at once; more are refused (UNAVAILABLE). */
  maxWaitersPerStream: number;
}

type Waiter = { ready: () => boolean; wake: () => void };

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
  /** Rendered playlists: plain, LL-HLS, and the LL delta update (`_HLS_skip`); dropped on every change. */
  readonly #playlists = new Map<"plain" | "ll" | "ll-skip", string>();
  readonly #parts = new PartWindow();
  /** liveEdge(), until the window changes. */
  #edge: LiveEdge | undefined;
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

  getPart(seq: number, part: number): PartObject | undefined {
    return this.#parts.get(seq, part);
  }

  /** The part target the origin announces (ms); undefined until a part arrived: then plain HLS. */
  get partTargetMs(): number | undefined {
    return this.#parts.partTargetMs;
  }

  /**
   * Rule for a new part (pushed or announced): it needs an init this relay
   * holds, and belongs to a segment near the live edge: not one whose parts
   * are no longer kept, nor one further ahead than a player may ask for.
   * Throws INIT_NOT_HELD or CONFLICT.
   */
  checkNewPart(att: PartAttestation): void {
    if (!this.#inits.has(att.initVersion)) {
      throw new SrpError(
        "INIT_NOT_HELD",
        `part ${att.seq}.${att.part} needs init ${att.initVersion}, which this relay does not hold`,
      );
    }
    const edge = this.liveEdgeSeq;
    if (edge >= 0 && (att.seq <= edge - PARTS_KEPT_SEGMENTS || att.seq > edge + ADVANCE_SEGMENT_LIMIT)) {
      throw new SrpError("CONFLICT", `part of segment ${att.seq} is too far from the live edge ${edge}`);
    }
  }

  putPart(obj: PartObject): void {
    this.#parts.put(obj);
    this.#changed();
  }

  /** Forgets a failed part so that it can be fetched or pushed again. */
  removePart(obj: PartObject): void {
    if (this.#parts.remove(obj)) this.#changed();
  }

  /** Parts after (seq, part), for a downstream relay. */
  partsAfter(seq: number, part: number): PartObject[] {
    return this.#parts.after(seq, part);
  }

  /** Parts of segment `seq` a playlist lists: all of them for a complete segment, else the gapless prefix. */
  listedParts(seq: number): PartObject[] {
    const seg = this.#segments.get(seq);
    return seg ? this.#parts.completeSet(seq, seg.byteLength) : this.#parts.contiguous(seq);
  }

  /** All parts of a segment of `byteLength` bytes, when every one is held; else none. */
  partsOf(seq: number, byteLength: number): PartObject[] {
    return this.#parts.completeSet(seq, byteLength);
  }

  /**
   * Where the stream is, for the blocking-reload rules; computed once per
   * change of the window (every blocked request re-checks it on each).
   */
  liveEdge(): LiveEdge {
    if (this.#edge) return this.#edge;
    const edge = this.liveEdgeSeq;
    this.#edge = {
      lastMsn: edge,
      partsOfLast: edge >= 0 ? this.listedParts(edge).length : 0,
      partsOfNext: this.#parts.contiguous(edge + 1).length,
      ended: this.end !== null,
    };
    return this.#edge;
  }

  /** The target duration of the playlist (s): blocking requests wait 3 of these. */
  targetDurationS(): number {
    return targetDurationOf([...this.#segments.values()].map((o) => o.attestation.durationMs));
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
    this.#parts.prune(this.liveEdgeSeq);
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
    this.#playlists.clear();
    this.#edge = undefined;
    this.#lastChangeAt = this.#now();
    if (this.#waiters.size === 0) return;
    for (const w of this.#waiters) {
      if (w.ready() || this.#end) {
        this.#waiters.delete(w);
        w.wake();
      }
    }
  }

  /**
   * Resolves once a segment with seq >= minSeq exists, the stream ends, or after
   * timeoutMs. Throws UNAVAILABLE when the stream already has its limit of waiters.
   */
  async waitFor(minSeq: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.waitUntil(() => this.liveEdgeSeq >= minSeq, timeoutMs, signal);
  }

  /**
   * Resolves once `ready()` holds (checked on every change), the stream ends,
   * or after timeoutMs; true when it holds. All of a stream's blocked
   * requests (long polls, blocking playlist reloads, preload-hinted parts)
   * share the one bounded set of waiters. Throws UNAVAILABLE when the stream
   * already has its limit of waiters. `signal` (the client hung up) gives the
   * place back at once: a client looping connect-block-close must not hold
   * the set full for the whole wait.
   */
  waitUntil(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready() || this.#end) return Promise.resolve(ready());
    if (signal?.aborted) return Promise.resolve(false);
    if (this.#waiters.size >= this.#options.maxWaitersPerStream) {
      return Promise.reject(new SrpError("UNAVAILABLE", "too many requests waiting on this stream"));
    }
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#waiters.delete(waiter);
        resolve(value);
      };
      const onAbort = () => done(false);
      const waiter: Waiter = { ready, wake: () => done(ready()) };
      const timer = setTimeout(() => done(ready()), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Wakes every long poll (shutdown). */
  wakeAll(): void {
    const all = [...this.#waiters];
    this.#waiters.clear();
    for (const w of all) w.wake();
  }

  /**
   * The viewer playlist; cached until the window changes. Lists in-flight
   * segments: they stream as they arrive. Plain HLS unless the client asked
   * for `lowLatency` (and the origin sends parts): then LL-HLS with parts,
   * and `skip` renders the delta update (`_HLS_skip`). A client that did not
   * ask never sees a part or a preload hint (hls.js counts a hinted part's
   * segment as listed even outside its low-latency mode).
   */
  playlist(options: { lowLatency?: boolean; skip?: boolean } = {}): string {
    const lowLatency = options.lowLatency ? this.#lowLatency(options.skip ?? false) : undefined;
    const key = lowLatency ? (lowLatency.skip ? "ll-skip" : "ll") : "plain";
    const cached = this.#playlists.get(key);
    if (cached !== undefined) return cached;
    const text = renderMediaPlaylist({ segments: this.#listed(), ended: this.end !== null, lowLatency });
    // A rung's playlist is not cached: the source's end (which ends it too) does not pass through here.
    if (!this.#parent) this.#playlists.set(key, text);
    return text;
  }

  #listed(): PlaylistSegment[] {
    const listed: PlaylistSegment[] = [];
    for (const obj of this.#segments.values()) {
      if (!this.#inits.has(obj.init)) continue;
      const a = obj.attestation;
      listed.push({ seq: a.seq, durationMs: a.durationMs, init: obj.init, producedAt: a.producedAt });
    }
    return listed.slice(-this.#options.playlistSegments);
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

  #lowLatency(skip: boolean): LowLatencyInput | undefined {
    const partTargetMs = this.#parts.partTargetMs;
    if (partTargetMs === undefined) return undefined;
    const edge = this.liveEdgeSeq;
    const parts = new Map<number, PlaylistPart[]>();
    for (let seq = edge - PARTS_KEPT_SEGMENTS + 1; seq <= edge; seq++) {
      const listed = this.listedParts(seq);
      if (listed.length > 0) parts.set(seq, PartWindow.listed(listed));
    }
    const next = this.#parts.contiguous(edge + 1);
    const newestInit = Math.max(-1, ...this.#inits.keys());
    const init = next[0]?.attestation.initVersion ?? this.#segments.get(edge)?.init ?? newestInit;
    return {
      partTargetMs,
      parts,
      inProgress: this.#inits.has(init) ? { seq: edge + 1, init, parts: PartWindow.listed(next) } : undefined,
      skip,
    };
  }

  /**
   * The relay-to-relay window, with every attestation; only segments after
   * `afterSeq` when given. With `partsAfter` (a downstream that takes
   * parts), the parts held after that (seq, part) too.
   */
  window(afterSeq = -1, partsAfter?: { seq: number; part: number }): StreamWindow {
    const segments = [...this.#segments.values()]
      .filter((o) => o.attestation.seq > afterSeq)
      .map((o) => ({ init: o.init, attestation: o.attestation }));
    return {
      streamId: this.streamId,
      inits: [...this.#inits.values()].map((o) => o.attestation),
      segments,
      end: this.end,
      ...(this.#renditions.size > 0 ? { renditions: [...this.#renditions.keys()] } : {}),
      ...(partsAfter
        ? { parts: this.#parts.after(partsAfter.seq, partsAfter.part).map((o) => o.attestation) }
        : {}),
    };
  }

  /** Whether anything after (afterSeq, and the part) is held: what a window long poll waits for. */
  hasNewerThan(afterSeq: number, partsAfter: { seq: number; part: number } | undefined): boolean {
    return (
      this.liveEdgeSeq > afterSeq ||
      (partsAfter !== undefined && this.#parts.hasAfter(partsAfter.seq, partsAfter.part))
    );
  }
}
