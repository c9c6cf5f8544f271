import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AttestationVerifier,
  attestationDigest,
  checkAttestationFor,
  checkInitVersion,
  checkPartAttestationFor,
  checkSegmentBytes,
  initFileName,
  isSrpError,
  MAX_PARTS_PER_SEGMENT,
  type NodeInfo,
  type PartAttestation,
  partFileName,
  rungPath,
  type SegmentAttestation,
  type SigningDomain,
  SOURCE_RUNG,
  SrpError,
  type StreamWindow,
  StreamWindowSchema,
  segmentFileName,
  streamEndApplies,
  streamEndNames,
  UPSTREAM_LAG_SEGMENTS,
  verifyStreamEnd,
  WINDOW_FILE,
} from "@streamrp2p/protocol";
import { type FetchLike, type Logger, requestJson } from "@streamrp2p/service";
import type { LiveStream } from "./live-stream.ts";
import { type AttestedBytes, MediaObject } from "./media-object.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { UpstreamResolver } from "./ports.ts";

export interface PullerOptions {
  windowWaitMs: number;
  upstreamIdleTimeoutMs: number;
  upstreamFailuresBeforeReparent: number;
  playlistSegments: number;
  /** The largest object (segment or part) taken, bytes: a bigger announced part is a lying upstream. */
  maxSegmentBytes: number;
  /** How long one object may take, across upstreams, before it is given up. */
  objectDeadlineMs?: number;
}

/**
 * A live upstream announces a segment about every segment duration. One that
 * has announced nothing for this many durations past the last one is stale
 * (hung, or cut off from its own upstream): re-parent at once rather than wait
 * for the long-poll's timeout, so one frozen relay never freezes its subtree.
 */
const STALE_AFTER_DURATIONS = 1.5;
const MIN_STALE_MS = 1_000; // ms: short segments still get a second of slack
/** Each stale switch in a row (the whole stream paused, not one relay) doubles the patience, up to the long-poll's. */
const MAX_STALE_BACKOFF = 8;
/** One upstream gets this many segment durations (at least the idle timeout) to deliver a whole object. */
const OBJECT_DURATIONS_PER_ATTEMPT = 3;

export interface PullerDeps {
  stream: LiveStream;
  /** The relay's one attestation check (cached by the digest of everything signed). */
  attestations: AttestationVerifier;
  /** The deployment attestation digests are computed in (a stream end names one). */
  domain: () => Promise<SigningDomain>;
  resolver: UpstreamResolver;
  fetch: FetchLike;
  log: Logger;
  metrics: RelayMetrics;
  options: PullerOptions;
}

const RETRY_DELAY_MS = 250;
/**
 * Part signatures one window answer may cost: two segments of the most parts
 * a segment may have. An honest answer holds the parts since the last poll
 * (a few), or the kept ones on a join (PARTS_KEPT_SEGMENTS + 1 segments, far
 * fewer than this at a 200-333 ms part target).
 */
export const MAX_PART_SIGNATURES_PER_WINDOW = 2 * MAX_PARTS_PER_SEGMENT;
/** A rung name an upstream showed nothing signed for is asked about again after this long (ms). */
const RUNG_RECHECK_MS = 5_000;
/** Refused rung names remembered at most (each window names at most MAX_RUNGS). */
const MAX_REFUSED_RUNGS = 64;
/** Listeners on the stop signal: objects of a full window in flight, inits, and the window poll. */
const MAX_CONCURRENT_FETCHES = 256;

/**
 * Keeps one stream's window filled from an upstream relay: long-polls its
 * window, verifies every attestation, fetches new objects eagerly with
 * cut-through, and re-parents after repeated failures.
 */
export class StreamPuller {
  readonly #d: PullerDeps;
  #upstream: NodeInfo | undefined;
  #excluded: string[] = [];
  #failures = 0;
  #lastSeq = -1;
  /** The newest LL-HLS part announced: the window long poll also wakes for newer ones. */
  #lastPart = { seq: -1, part: -1 };
  #running = false;
  /** Following no more of the window; stops once the objects in flight are whole (`retire`). */
  #retiring = false;
  #fillsInFlight = 0;
  /** The window long-poll in progress: cut by `retire`. */
  #windowPoll: AbortController | undefined;
  readonly #abort = new AbortController();
  /** When the last new segment was announced (ms) and how long it was: what "stale" is measured by. */
  #lastProgressAt = 0;
  #lastDurationMs = 0;
  #staleInARow = 0;
  /** The upstream seen lagging at the last look at the ledger's edge: a second look in a row moves. */
  #laggingUpstream: string | undefined;
  /** In-flight object fetches by upstream: aborted when that upstream is left. */
  readonly #inFlight = new Map<string, Set<AbortController>>();
  /** rung → the puller of that rung's window (source puller only), from the same upstream. */
  readonly #rungs = new Map<string, StreamPuller>();
  /** Rung names being checked against the upstream (at most one window's list at a time). */
  readonly #checkingRungs = new Set<string>();
  /** Rung names the upstream named but showed nothing signed for, and when (ms): bounded. */
  readonly #refusedRungs = new Map<string, number>();

  constructor(deps: PullerDeps) {
    this.#d = deps;
    // Every in-flight object fetch and the window poll listen for stop(): a window's worth at once.
    setMaxListeners(MAX_CONCURRENT_FETCHES, this.#abort.signal);
  }

  get upstream(): NodeInfo | undefined {
    return this.#upstream;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  stop(): void {
    this.#running = false;
    this.#abort.abort();
    for (const p of this.#rungs.values()) p.stop();
  }

  /**
   * The upstream's source window names its transcoded rungs: each gets a
   * puller of its own window from this puller's upstream (a rung follows
   * the source's re-parenting). That list is not signed, so a name takes one
   * of the stream's few rung slots (and is advertised to this relay's
   * children) only once the upstream shows an attestation the streamer
   * signed for that rung; a name that shows none is asked again only after
   * RUNG_RECHECK_MS. Bounded by the stream's rung limit.
   */
  #followRungs(names: readonly string[]): void {
    if (this.#d.stream.rung !== SOURCE_RUNG) return;
    for (const rung of names) {
      if (this.#rungs.has(rung) || this.#checkingRungs.has(rung)) continue;
      const held = this.#d.stream.rendition(rung); // pushed here, or followed before
      if (held) {
        this.#startRung(rung, held);
        continue;
      }
      const refusedAt = this.#refusedRungs.get(rung);
      if (refusedAt !== undefined && Date.now() - refusedAt < RUNG_RECHECK_MS) continue;
      this.#checkingRungs.add(rung);
      void this.#checkRung(rung).finally(() => this.#checkingRungs.delete(rung));
    }
  }

  /** Opens the rung's window once the upstream shows one attestation signed for it. */
  async #checkRung(rung: string): Promise<void> {
    const { stream } = this.#d;
    try {
      const upstream = await this.#currentUpstream();
      const win = await requestJson(
        this.#d.fetch,
        `${upstream.url}/live/${rungPath(stream.streamId, rung)}/${WINDOW_FILE}`,
        StreamWindowSchema,
        { timeoutMs: this.#d.options.upstreamIdleTimeoutMs, signal: this.#abort.signal },
      );
      const init = win.inits[0];
      const segment = win.segments[0]?.attestation;
      const att = init ?? segment;
      if (!att) throw new SrpError("UPSTREAM_FAILED", `rung ${rung} holds nothing upstream`);
      checkAttestationFor(att, stream.streamId, { kind: init ? "init" : "segment", seq: att.seq, rung });
      await this.#d.attestations.verify(att, stream.signer);
      if (!this.#running || this.#retiring || this.#rungs.has(rung)) return;
      this.#refusedRungs.delete(rung);
      this.#startRung(rung, stream.openRendition(rung));
    } catch (err) {
      if (!this.#running) return;
      this.#refusedRungs.delete(rung);
      this.#refusedRungs.set(rung, Date.now());
      if (this.#refusedRungs.size > MAX_REFUSED_RUNGS)
        this.#refusedRungs.delete(this.#refusedRungs.keys().next().value as string);
      this.#d.log.debug("rung not followed", { streamId: stream.streamId, rung, err });
    }
  }

  #startRung(rung: string, stream: LiveStream): void {
    const puller = new StreamPuller({
      ...this.#d,
      stream,
      resolver: {
        resolve: async (_streamId, excluded) => {
          const upstream = await this.#currentUpstream();
          if (!excluded.includes(upstream.nodeId)) return upstream;
          // The rung left this upstream (frozen, failing or lying about the rung): the source
          // leaves it too, or the rung would be handed the same upstream for as long as the source flows.
          this.#upstreamFailed(
            upstream,
            new SrpError("UPSTREAM_STALE", `rung ${rung} left ${upstream.nodeId}`),
          );
          return this.#currentUpstream();
        },
      },
      log: this.#d.log,
    });
    this.#rungs.set(rung, puller);
    puller.start();
  }

  /**
   * Stops following the upstream's window but finishes the objects already in
   * flight, then stops: readers (and children) may be attached to a half-arrived
   * segment that nothing else will complete, e.g. when the origin starts pushing
   * this stream here from the next segment on.
   */
  retire(): void {
    for (const p of this.#rungs.values()) p.retire();
    if (!this.#running || this.#retiring) return;
    this.#retiring = true;
    this.#windowPoll?.abort();
    if (this.#fillsInFlight === 0) this.stop();
  }

  /**
   * The stream's live edge as the coordinator's segment ledger has it (with
   * every heartbeat reply). The ledger is read every few seconds, so it is
   * never ahead of a relay at the true edge: a relay more than
   * UPSTREAM_LAG_SEGMENTS behind it has an upstream that is alive but behind
   * (overloaded, or fed by a slow branch). Seen on two replies in a row with
   * the same upstream (one reply can race a re-parent), the relay re-parents.
   */
  observeLedgerEdge(ledgerEdge: number): void {
    const upstream = this.#upstream;
    const behind =
      this.#lastSeq >= 0 && !this.#d.stream.end && ledgerEdge - this.#lastSeq > UPSTREAM_LAG_SEGMENTS;
    if (!upstream || !behind) {
      this.#laggingUpstream = undefined;
      return;
    }
    if (this.#laggingUpstream !== upstream.nodeId) {
      this.#laggingUpstream = upstream.nodeId;
      return;
    }
    this.#laggingUpstream = undefined;
    this.#upstreamFailed(
      upstream,
      new SrpError(
        "UPSTREAM_LAGGING",
        `${upstream.nodeId} is at ${this.#lastSeq}, the stream at ${ledgerEdge}`,
      ),
    );
  }

  async #loop(): Promise<void> {
    const { stream, log } = this.#d;
    while (this.#running && !this.#retiring) {
      let upstream: NodeInfo | undefined;
      try {
        upstream = await this.#currentUpstream();
        const win = await this.#fetchWindow(upstream);
        const added = await this.#apply(win);
        this.#failures = 0;
        if (added > 0) this.#staleInARow = 0;
        else if ((this.#staleInMs() ?? 1) <= 0)
          throw new SrpError("UPSTREAM_STALE", "upstream window is not advancing");
        if (added === 0 && win.end) await sleep(1_000, undefined, { signal: this.#abort.signal });
      } catch (err) {
        if (!this.#running || this.#retiring) break;
        if (isSrpError(err, "STREAM_NOT_FOUND") || isSrpError(err, "NO_UPSTREAM")) {
          if (isSrpError(err, "NO_UPSTREAM")) this.#excluded = []; // everyone failed once: try them all again
          // Not live yet anywhere: waiting, not failing over.
          log.debug("stream not available upstream yet", { streamId: stream.streamId });
          await sleep(1_000, undefined, { signal: this.#abort.signal }).catch(() => {});
          continue;
        }
        if (upstream) this.#upstreamFailed(upstream, err);
        await sleep(RETRY_DELAY_MS, undefined, { signal: this.#abort.signal }).catch(() => {});
      }
    }
  }

  async #currentUpstream(): Promise<NodeInfo> {
    if (!this.#upstream) {
      this.#upstream = await this.#d.resolver.resolve(this.#d.stream.streamId, this.#excluded);
      this.#d.stream.source = this.#upstream.nodeId;
      this.#d.log.info("upstream assigned", {
        streamId: this.#d.stream.streamId,
        upstream: this.#upstream.nodeId,
        url: this.#upstream.url,
      });
    }
    return this.#upstream;
  }

  #upstreamFailed(upstream: NodeInfo, err: unknown): void {
    const { log, metrics, options, stream } = this.#d;
    metrics.upstreamFailures.inc();
    if (this.#upstream?.nodeId !== upstream.nodeId) return; // already replaced
    this.#failures += 1;
    log.warn("upstream failed", {
      streamId: stream.streamId,
      upstream: upstream.nodeId,
      failures: this.#failures,
      err,
    });
    const tampered =
      isSrpError(err, "HASH_MISMATCH") ||
      isSrpError(err, "BAD_SIGNATURE") ||
      isSrpError(err, "ATTESTATION_MISMATCH") ||
      isSrpError(err, "INIT_NOT_HELD");
    const leaving = isSrpError(err, "DRAINING");
    const stale = isSrpError(err, "UPSTREAM_STALE");
    const lagging = isSrpError(err, "UPSTREAM_LAGGING");
    if (stale) this.#staleInARow += 1;
    if (tampered || leaving || stale || lagging || this.#failures >= options.upstreamFailuresBeforeReparent) {
      for (const c of this.#inFlight.get(upstream.nodeId) ?? []) c.abort(); // resume those bytes elsewhere
      this.#inFlight.delete(upstream.nodeId);
      this.#excluded = [...this.#excluded.filter((id) => id !== upstream.nodeId), upstream.nodeId].slice(-8);
      this.#upstream = undefined;
      this.#failures = 0;
      metrics.reparents.inc();
      log.warn("re-parenting", {
        streamId: stream.streamId,
        from: upstream.nodeId,
        tampered,
        leaving,
        stale,
        lagging,
      });
    }
  }

  /** ms until the upstream counts as stale; undefined while nothing is live to measure by. */
  #staleInMs(): number | undefined {
    if (this.#lastSeq < 0 || this.#d.stream.end || this.#lastDurationMs === 0) return undefined;
    const patience =
      Math.max(MIN_STALE_MS, this.#lastDurationMs * STALE_AFTER_DURATIONS) *
      Math.min(MAX_STALE_BACKOFF, 2 ** this.#staleInARow);
    return Math.min(this.#d.options.windowWaitMs, this.#lastProgressAt + patience - Date.now());
  }

  /** The window long-poll, cut when this upstream is left (a lag or a failure elsewhere) so the move is immediate. */
  async #fetchWindow(upstream: NodeInfo): Promise<StreamWindow> {
    const controller = new AbortController();
    this.#windowPoll = controller;
    const mine = this.#inFlight.get(upstream.nodeId) ?? new Set<AbortController>();
    this.#inFlight.set(upstream.nodeId, mine);
    mine.add(controller);
    const onStop = () => controller.abort();
    this.#abort.signal.addEventListener("abort", onStop);
    try {
      return await this.#pollWindow(upstream, controller.signal);
    } finally {
      if (this.#windowPoll === controller) this.#windowPoll = undefined;
      this.#abort.signal.removeEventListener("abort", onStop);
      mine.delete(controller);
      if (mine.size === 0 && this.#inFlight.get(upstream.nodeId) === mine)
        this.#inFlight.delete(upstream.nodeId);
    }
  }

  async #pollWindow(upstream: NodeInfo, signal: AbortSignal): Promise<StreamWindow> {
    // parts=: this relay takes LL-HLS parts, and the poll answers as soon as a newer one exists.
    const parts = `${this.#lastPart.seq}.${this.#lastPart.part}`;
    const url = `${upstream.url}/live/${this.#d.stream.path}/${WINDOW_FILE}?after=${this.#lastSeq}&parts=${parts}&wait=1`;
    const longPollMs = this.#d.options.windowWaitMs + 4_000;
    const staleIn = this.#staleInMs();
    if (staleIn === undefined || staleIn >= longPollMs) {
      return requestJson(this.#d.fetch, url, StreamWindowSchema, { timeoutMs: longPollMs, signal });
    }
    try {
      // Whole ms: AbortSignal.timeout throws a RangeError for a fraction.
      const timeoutMs = Math.max(50, Math.ceil(staleIn));
      return await requestJson(this.#d.fetch, url, StreamWindowSchema, { timeoutMs, signal });
    } catch (err) {
      if (!isSrpError(err, "TIMEOUT")) throw err;
      throw new SrpError("UPSTREAM_STALE", `${upstream.nodeId} announced nothing new in time`, {
        cause: err,
      });
    }
  }

  /** Verifies and adds what is new in `win`; returns how many segments were added. */
  async #apply(win: StreamWindow): Promise<number> {
    const { stream, options, metrics } = this.#d;
    if (win.streamId !== stream.streamId)
      throw new SrpError("UPSTREAM_FAILED", "upstream window names another stream");
    if (win.renditions) this.#followRungs(win.renditions);
    for (const att of win.inits) {
      if (stream.hasInit(att.seq)) continue;
      await this.#verify(att, "init");
      const obj = new MediaObject(att, att.seq);
      stream.putInit(obj);
      void this.#fill(obj, true);
    }
    const newParts = await this.#applyParts(win.parts ?? []);
    let fresh = win.segments
      .filter((s) => s.attestation.seq > this.#lastSeq)
      .sort((a, b) => a.attestation.seq - b.attestation.seq);
    if (this.#lastSeq === -1) fresh = fresh.slice(-(options.playlistSegments + 1));
    for (const s of fresh) {
      await this.#verify(s.attestation, "segment");
      // The init a segment needs is signed: a window that relabels it is lying (treated as tampering).
      checkInitVersion(s.attestation, s.init);
      stream.checkNewSegment(s.attestation.seq, s.init);
      if (stream.end && s.attestation.seq > stream.end.lastSeq) stream.clearEnd();
      // Its parts, all held and verified, are the segment: no second copy crosses the network.
      const assembled = this.#assemble(s.attestation);
      const obj = assembled
        ? MediaObject.complete(s.attestation, s.init, assembled)
        : new MediaObject(s.attestation, s.init);
      stream.putSegment(obj);
      this.#lastSeq = s.attestation.seq;
      this.#lastProgressAt = Date.now();
      this.#lastDurationMs = s.attestation.durationMs;
      if (assembled) metrics.segmentsIngested.inc({ source: "parts" });
      else void this.#fill(obj, false);
    }
    const last = win.end ? stream.getSegment(win.end.lastSeq) : undefined;
    if (
      win.end &&
      last &&
      !stream.end &&
      win.end.lastSeq <= this.#lastSeq &&
      streamEndApplies(win.end, stream.liveEdgeSeq) &&
      streamEndNames(win.end, attestationDigest(last.attestation, await this.#d.domain()))
    ) {
      await verifyStreamEnd(win.end, stream.signer);
      stream.setEnd(win.end);
    }
    return fresh.length + newParts;
  }

  /**
   * Verifies and adds the announced LL-HLS parts this relay does not hold,
   * and fetches each at once (cut-through: viewers blocked on it get bytes as
   * they come). Check order: the cheap checks (stream and path rule, size,
   * duplicates, already held, too old or too far from the live edge), then
   * at most MAX_PART_SIGNATURES_PER_WINDOW signatures. An upstream that
   * replays hundreds of old genuine parts in one answer costs a loop over
   * them, not a second of signature recovery; parts past the budget wait for
   * the next poll, which asks after the last one verified.
   */
  async #applyParts(parts: readonly PartAttestation[]): Promise<number> {
    const { stream, metrics } = this.#d;
    let added = 0;
    let budget = MAX_PART_SIGNATURES_PER_WINDOW;
    const seen = new Set<string>();
    const sorted = [...parts].sort((a, b) => a.seq - b.seq || a.part - b.part);
    for (const att of sorted) {
      checkPartAttestationFor(att, stream.streamId, att.seq, att.part);
      if (att.byteLength > this.#d.options.maxSegmentBytes)
        throw new SrpError(
          "UPSTREAM_FAILED",
          `announced part ${att.seq}.${att.part} of ${att.byteLength} bytes`,
        );
      const key = `${att.seq}.${att.part}`;
      if (seen.has(key)) {
        metrics.partAnnouncements.inc({ result: "skipped" });
        continue;
      }
      seen.add(key);
      // Held (verified when it came) or older than this relay's own verified edge: moving past it
      // costs nothing and cannot move the poll ahead of what is signed.
      if (stream.getPart(att.seq, att.part) || att.seq <= this.#lastSeq - 1) {
        this.#passPart(att);
        metrics.partAnnouncements.inc({ result: "skipped" });
        continue;
      }
      let near = true;
      try {
        stream.checkNewPart(att);
      } catch (err) {
        if (!isSrpError(err, "CONFLICT")) throw err;
        near = false;
      }
      if (!near && att.seq < stream.liveEdgeSeq) {
        metrics.partAnnouncements.inc({ result: "skipped" }); // too old for this window: not worth a signature
        continue;
      }
      if (budget === 0) {
        // This one and every later one: the next poll asks after the last part passed.
        metrics.partAnnouncements.inc({ result: "deferred" }, sorted.length - sorted.indexOf(att));
        break;
      }
      budget -= 1;
      await this.#d.attestations.verifyPart(att, stream.signer);
      metrics.partAnnouncements.inc({ result: "verified" });
      this.#passPart(att);
      if (!near) continue; // too far ahead for this window: the poll moves past it, nothing is kept
      const obj = new MediaObject(att, att.initVersion);
      stream.putPart(obj);
      this.#lastProgressAt = Date.now();
      added += 1;
      void this.#fillPart(obj);
    }
    return added;
  }

  /** The window long poll asks for parts after this one from now on. */
  #passPart(att: PartAttestation): void {
    if (att.seq > this.#lastPart.seq || (att.seq === this.#lastPart.seq && att.part > this.#lastPart.part))
      this.#lastPart = { seq: att.seq, part: att.part };
  }

  /** A segment's bytes from its held parts, when they are all here, complete and hash to its attestation. */
  #assemble(att: SegmentAttestation): Buffer | undefined {
    const parts = this.#d.stream.partsOf(att.seq, att.byteLength);
    if (parts.length === 0 || parts.some((p) => !p.bytes)) return undefined;
    const bytes = Buffer.concat(parts.map((p) => p.bytes as Buffer));
    try {
      checkSegmentBytes(att, bytes);
      return bytes;
    } catch {
      return undefined; // parts of another cut than the segment's: fetch it whole
    }
  }

  /** Fetches one part's bytes once; a part that fails is dropped (the whole segment follows anyway). */
  async #fillPart(obj: MediaObject<PartAttestation>): Promise<void> {
    let upstream: NodeInfo | undefined;
    try {
      upstream = await this.#currentUpstream();
      await this.#streamInto(obj, upstream, partFileName(obj.attestation.seq, obj.attestation.part));
      this.#d.metrics.partsIngested.inc({ source: "pull" });
    } catch (err) {
      if (!this.#running) return;
      if (upstream) this.#upstreamFailed(upstream, err);
      obj.fail(new SrpError("UPSTREAM_FAILED", "part not delivered", { cause: err }));
      this.#d.stream.removePart(obj);
    }
  }

  async #verify(att: SegmentAttestation, kind: "init" | "segment"): Promise<void> {
    checkAttestationFor(att, this.#d.stream.streamId, { kind, seq: att.seq, rung: this.#d.stream.rung });
    await this.#d.attestations.verify(att, this.#d.stream.signer);
  }

  /**
   * Fetches an object's bytes, resuming after what already arrived when an
   * upstream dies mid-object, so readers attached to it see one whole body.
   */
  async #fill(first: MediaObject, isInit: boolean): Promise<void> {
    this.#fillsInFlight += 1;
    try {
      await this.#fillOnce(first, isInit);
    } finally {
      this.#fillsInFlight -= 1;
      if (this.#retiring && this.#fillsInFlight === 0) this.stop();
    }
  }

  async #fillOnce(first: MediaObject, isInit: boolean): Promise<void> {
    const { stream, metrics } = this.#d;
    const deadline = Date.now() + (this.#d.options.objectDeadlineMs ?? 15_000);
    let obj = first;
    while (this.#running) {
      let upstream: NodeInfo | undefined;
      try {
        upstream = await this.#currentUpstream();
        await this.#streamInto(
          obj,
          upstream,
          isInit ? initFileName(obj.init) : segmentFileName(obj.attestation.seq),
        );
        if (!isInit) metrics.segmentsIngested.inc({ source: "pull" });
        return;
      } catch (err) {
        if (!this.#running) return;
        if (upstream) this.#upstreamFailed(upstream, err);
        if (obj.failed) {
          // Bad bytes: readers were cut; start a fresh object for the retry.
          stream.remove(obj);
          obj = new MediaObject(obj.attestation, obj.init);
          if (isInit) stream.putInit(obj);
          else stream.putSegment(obj);
        }
        if (Date.now() > deadline) {
          obj.fail(
            new SrpError("UPSTREAM_FAILED", "no upstream delivered the object in time", { cause: err }),
          );
          stream.remove(obj);
          return;
        }
        await sleep(RETRY_DELAY_MS, undefined, { signal: this.#abort.signal }).catch(() => {});
      }
    }
  }

  async #streamInto(
    obj: MediaObject<AttestedBytes & { durationMs: number }>,
    upstream: NodeInfo,
    file: string,
  ): Promise<void> {
    const url = `${upstream.url}/live/${this.#d.stream.path}/${file}`;
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.#abort.signal.addEventListener("abort", onStop);
    const mine = this.#inFlight.get(upstream.nodeId) ?? new Set<AbortController>();
    this.#inFlight.set(upstream.nodeId, mine);
    mine.add(controller);
    let idle = setTimeout(() => controller.abort(), this.#d.options.upstreamIdleTimeoutMs);
    // A whole-object limit too: an upstream dripping bytes just inside the idle timeout is failing.
    const limit = setTimeout(
      () => controller.abort(),
      Math.max(
        this.#d.options.upstreamIdleTimeoutMs,
        OBJECT_DURATIONS_PER_ATTEMPT * obj.attestation.durationMs,
      ),
    );
    try {
      // No redirects: an upstream must not send this relay's requests elsewhere (SSRF).
      const res = await this.#d.fetch(url, { signal: controller.signal, redirect: "manual" });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        throw new SrpError(
          res.status === 404 ? "SEGMENT_NOT_FOUND" : res.status === 503 ? "DRAINING" : "UPSTREAM_FAILED",
          `${url}: HTTP ${res.status}`,
        );
      }
      let skip = obj.received; // bytes we already have from a previous upstream
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(), this.#d.options.upstreamIdleTimeoutMs);
        let chunk = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          chunk = chunk.subarray(drop);
          skip -= drop;
        }
        if (chunk.length > 0) obj.append(chunk);
        if (obj.failed) throw obj.failed;
      }
      if (!obj.isComplete) {
        throw new SrpError(
          "UPSTREAM_FAILED",
          `${url}: body ended after ${obj.received} of ${obj.byteLength} bytes`,
        );
      }
    } catch (err) {
      if (err instanceof SrpError) throw err;
      throw new SrpError("UPSTREAM_FAILED", `${url}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(idle);
      clearTimeout(limit);
      this.#abort.signal.removeEventListener("abort", onStop);
      mine.delete(controller);
      if (mine.size === 0 && this.#inFlight.get(upstream.nodeId) === mine)
        this.#inFlight.delete(upstream.nodeId);
    }
  }
}
