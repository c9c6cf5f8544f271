import { setTimeout as sleep } from "node:timers/promises";
import {
  type AttestationVerifier,
  checkAttestationFor,
  initFileName,
  isSrpError,
  type NodeInfo,
  type SegmentAttestation,
  SrpError,
  type StreamWindow,
  StreamWindowSchema,
  segmentFileName,
  streamEndApplies,
  verifyStreamEnd,
  WINDOW_FILE,
} from "@streamrp2p/protocol";
import { type FetchLike, type Logger, requestJson } from "@streamrp2p/service";
import type { LiveStream } from "./live-stream.ts";
import { MediaObject } from "./media-object.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { UpstreamResolver } from "./ports.ts";

export interface PullerOptions {
  windowWaitMs: number;
  upstreamIdleTimeoutMs: number;
  upstreamFailuresBeforeReparent: number;
  playlistSegments: number;
  /** How long one object may take, across upstreams, before it is given up. */
  objectDeadlineMs?: number;
}

export interface PullerDeps {
  stream: LiveStream;
  /** The relay's one attestation check (cached by the digest of everything signed). */
  attestations: AttestationVerifier;
  resolver: UpstreamResolver;
  fetch: FetchLike;
  log: Logger;
  metrics: RelayMetrics;
  options: PullerOptions;
}

const RETRY_DELAY_MS = 250;

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
  #running = false;
  readonly #abort = new AbortController();

  constructor(deps: PullerDeps) {
    this.#d = deps;
  }

  get upstream(): NodeInfo | undefined {
    return this.#upstream;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  stop(): void {
    this.#running = false;
    this.#abort.abort();
  }

  async #loop(): Promise<void> {
    const { stream, log } = this.#d;
    while (this.#running) {
      let upstream: NodeInfo | undefined;
      try {
        upstream = await this.#currentUpstream();
        const win = await this.#fetchWindow(upstream);
        const added = await this.#apply(win);
        this.#failures = 0;
        if (added === 0 && win.end) await sleep(1_000, undefined, { signal: this.#abort.signal });
      } catch (err) {
        if (!this.#running) break;
        if (isSrpError(err, "STREAM_NOT_FOUND") || isSrpError(err, "NO_UPSTREAM")) {
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
      isSrpError(err, "ATTESTATION_MISMATCH");
    const leaving = isSrpError(err, "DRAINING");
    if (tampered || leaving || this.#failures >= options.upstreamFailuresBeforeReparent) {
      this.#excluded = [...this.#excluded.filter((id) => id !== upstream.nodeId), upstream.nodeId].slice(-8);
      this.#upstream = undefined;
      this.#failures = 0;
      metrics.reparents.inc();
      log.warn("re-parenting", { streamId: stream.streamId, from: upstream.nodeId, tampered, leaving });
    }
  }

  async #fetchWindow(upstream: NodeInfo): Promise<StreamWindow> {
    const url = `${upstream.url}/live/${this.#d.stream.streamId}/${WINDOW_FILE}?after=${this.#lastSeq}&wait=1`;
    return requestJson(this.#d.fetch, url, StreamWindowSchema, {
      timeoutMs: this.#d.options.windowWaitMs + 4_000,
    });
  }

  /** Verifies and adds what is new in `win`; returns how many segments were added. */
  async #apply(win: StreamWindow): Promise<number> {
    const { stream, options } = this.#d;
    if (win.streamId !== stream.streamId)
      throw new SrpError("UPSTREAM_FAILED", "upstream window names another stream");
    for (const att of win.inits) {
      if (stream.hasInit(att.seq)) continue;
      await this.#verify(att, "init");
      const obj = new MediaObject(att, att.seq);
      stream.putInit(obj);
      void this.#fill(obj, true);
    }
    let fresh = win.segments
      .filter((s) => s.attestation.seq > this.#lastSeq)
      .sort((a, b) => a.attestation.seq - b.attestation.seq);
    if (this.#lastSeq === -1) fresh = fresh.slice(-(options.playlistSegments + 1));
    for (const s of fresh) {
      await this.#verify(s.attestation, "segment");
      if (stream.end && s.attestation.seq > stream.end.lastSeq) stream.clearEnd();
      const obj = new MediaObject(s.attestation, s.init);
      stream.putSegment(obj);
      this.#lastSeq = s.attestation.seq;
      void this.#fill(obj, false);
    }
    if (
      win.end &&
      !stream.end &&
      win.end.lastSeq <= this.#lastSeq &&
      streamEndApplies(win.end, stream.liveEdgeSeq)
    ) {
      await verifyStreamEnd(win.end, stream.signer);
      stream.setEnd(win.end);
    }
    return fresh.length;
  }

  async #verify(att: SegmentAttestation, kind: "init" | "segment"): Promise<void> {
    checkAttestationFor(att, this.#d.stream.streamId, { kind, seq: att.seq });
    await this.#d.attestations.verify(att, this.#d.stream.signer);
  }

  /**
   * Fetches an object's bytes, resuming after what already arrived when an
   * upstream dies mid-object, so readers attached to it see one whole body.
   */
  async #fill(first: MediaObject, isInit: boolean): Promise<void> {
    const { stream, metrics } = this.#d;
    const deadline = Date.now() + (this.#d.options.objectDeadlineMs ?? 15_000);
    let obj = first;
    while (this.#running) {
      let upstream: NodeInfo | undefined;
      try {
        upstream = await this.#currentUpstream();
        await this.#streamInto(obj, upstream, isInit);
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

  async #streamInto(obj: MediaObject, upstream: NodeInfo, isInit: boolean): Promise<void> {
    const file = isInit ? initFileName(obj.init) : segmentFileName(obj.attestation.seq);
    const url = `${upstream.url}/live/${this.#d.stream.streamId}/${file}`;
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.#abort.signal.addEventListener("abort", onStop);
    let idle = setTimeout(() => controller.abort(), this.#d.options.upstreamIdleTimeoutMs);
    try {
      const res = await this.#d.fetch(url, { signal: controller.signal });
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
      this.#abort.signal.removeEventListener("abort", onStop);
    }
  }
}
