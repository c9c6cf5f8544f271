import { SrpError } from "@streamrp2p/protocol";
import { LiveStream, type LiveStreamOptions, type WindowObserver } from "./live-stream.ts";

export interface StreamTableOptions extends LiveStreamOptions {
  /** Streams held at once; a new one beyond this is refused (UNAVAILABLE) unless an idle one can go. */
  maxStreams: number;
  /** A stream whose window has not changed for this long, and that nothing pulls, is forgotten. */
  idleStreamMs: number;
}

/**
 * The streams a relay holds, bounded: a stream exists only once a verified
 * object arrived for it (or the coordinator asked the relay to pull it), idle
 * ones are evicted, and there are never more than `maxStreams`, so junk
 * stream ids cannot grow the relay's state or its heartbeat.
 */
export class StreamTable {
  readonly #streams = new Map<string, LiveStream>();
  readonly #o: StreamTableOptions;
  readonly #now: () => number;
  readonly #onChange: (size: number) => void;
  readonly #observer: WindowObserver | undefined;

  /** `observer` hears of every change to every window (a relay with workers replicates them). */
  constructor(
    options: StreamTableOptions,
    now: () => number,
    onChange: (size: number) => void = () => {},
    observer?: WindowObserver,
  ) {
    this.#o = options;
    this.#now = now;
    this.#onChange = onChange;
    this.#observer = observer;
  }

  get size(): number {
    return this.#streams.size;
  }

  get(streamId: string): LiveStream | undefined {
    return this.#streams.get(streamId);
  }

  values(): IterableIterator<LiveStream> {
    return this.#streams.values();
  }

  /**
   * The stream, created when new. `isActive(id)` says whether something
   * still uses a stream (a puller): those are never evicted to make room.
   */
  open(streamId: string, signer: string, isActive: (streamId: string) => boolean): LiveStream {
    const existing = this.#streams.get(streamId);
    if (existing) return existing;
    if (this.#streams.size >= this.#o.maxStreams) this.sweep(isActive);
    if (this.#streams.size >= this.#o.maxStreams) {
      throw new SrpError("UNAVAILABLE", `this relay holds its limit of ${this.#o.maxStreams} streams`);
    }
    const stream = new LiveStream(streamId, signer, this.#o, this.#now, this.#observer);
    this.#streams.set(streamId, stream);
    this.#observer?.opened(stream);
    this.#onChange(this.#streams.size);
    return stream;
  }

  /** Forgets a stream now (torn down: nothing pulls it), waking its long polls. */
  drop(streamId: string): void {
    const s = this.#streams.get(streamId);
    if (!s) return;
    this.#streams.delete(streamId);
    s.wakeAll();
    this.#observer?.dropped(streamId); // workers forget it too, or they would serve a frozen window
    this.#onChange(this.#streams.size);
  }

  /** Forgets streams idle for `idleStreamMs` that nothing pulls and nobody waits on. Returns how many. */
  sweep(isActive: (streamId: string) => boolean): number {
    const cutoff = this.#now() - this.#o.idleStreamMs;
    let evicted = 0;
    for (const [id, s] of this.#streams) {
      if (s.lastChangeAt <= cutoff && !isActive(id) && s.waiters === 0) {
        this.#streams.delete(id);
        this.#observer?.dropped(id);
        evicted += 1;
      }
    }
    if (evicted > 0) this.#onChange(this.#streams.size);
    return evicted;
  }

  /** The `limit` most recently changed streams: what a heartbeat can list. */
  mostActive(limit: number): LiveStream[] {
    const all = [...this.#streams.values()];
    if (all.length <= limit) return all;
    return all.sort((a, b) => b.lastChangeAt - a.lastChangeAt).slice(0, limit);
  }
}
