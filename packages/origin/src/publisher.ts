import { setTimeout as sleep } from "node:timers/promises";
import {
  attestationDigest,
  encodeAttestationHeader,
  encodePartAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  HEADER_PART_ATTESTATION,
  initFileName,
  type NodeInfo,
  type PartAttestation,
  partFileName,
  RENDITION_MAIN,
  renditionName,
  type SegmentAttestation,
  type SigningDomain,
  SOURCE_RUNG,
  SrpError,
  segmentFileName,
  sha256Hex,
  signPartAttestation,
  signSegmentAttestation,
  signStreamEnd,
} from "@streamrp2p/protocol";
import type { FetchLike, Logger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";
import type { CutPart } from "./segmenter.ts";

export interface PublisherDeps {
  streamId: string;
  signer: LocalAccount;
  /** The deployment attestations are signed for (known once the origin has asked its coordinator). */
  domain: () => SigningDomain;
  /** Current ingest relays for the stream (from the coordinator). */
  resolveIngest(): Promise<NodeInfo[]>;
  /** Tells the coordinator an ingest relay was dropped, so it names another. Best effort. */
  reportIngestFailure?(nodeId: string, reason: string): Promise<void>;
  fetch?: FetchLike;
  log: Logger;
  onPushed?(target: string, ok: boolean): void;
  onDropped?(target: string, reason: string): void;
  now?: () => number;
}

export interface PublisherOptions {
  refreshMs: number; // ms between ingest-list refreshes
  /**
   * A relay that has not taken an object this long after it was signed is
   * dropped from the push set (and replaced through the coordinator): one
   * segment duration, so a hung relay never delays the stream by more.
   */
  stallMs: number; // ms
  /** How long a dropped relay is left out before the coordinator's list may bring it back. */
  dropForMs: number; // ms
  /** Segments sent to a newly added relay after the init, so relays pulling from it find a window. */
  backfillSegments: number;
}

const PUBLISHER_DEFAULTS: PublisherOptions = {
  refreshMs: 3_000,
  stallMs: 1_000,
  dropForMs: 30_000,
  backfillSegments: 3,
};
/** What became of one object on one relay. */
type SendOutcome = "ok" | "refused" | "init-missing" | "draining";

const RETRY_DELAY_MS = 50; // ms between tries of one object, within its stall deadline
const WATCHDOG_MS = 100; // ms between checks for stalled relays

interface Pushed {
  /** The ladder rung (SOURCE_RUNG for the passthrough). */
  rung: string;
  /** The path under `/live/:stream/`: `seg-5.m4s`, or `360p/seg-5.m4s` for a transcoded rung. */
  file: string;
  att: SegmentAttestation;
  bytes: Buffer;
  init: number;
}

interface PushedPart {
  file: string;
  att: PartAttestation;
  bytes: Buffer;
}

/** One ingest relay's push queue: its own order, its own pace, abortable as a whole. */
interface Target {
  info: NodeInfo;
  queue: Promise<void>;
  /** When each queued object was handed over (ms), oldest first: the watchdog reads the head. */
  pendingSince: number[];
  abort: AbortController;
  /** rung → the init version queued on this relay. */
  initSent: Map<string, number>;
}

/** A rung's file path under the stream: the source's at the top, the others one folder down. */
function rungFile(rung: string, file: string): string {
  return rung === SOURCE_RUNG ? file : `${rung}/${file}`;
}

/**
 * Signs every init and segment once and pushes it to each ingest relay (HTTP
 * PUT). Each relay has its own queue: publishing never waits for any relay,
 * and a relay that has not taken an object within `stallMs` of its signing is
 * dropped (its requests aborted), reported to the coordinator, and replaced by
 * the coordinator's next choice.
 */
export class IngestPublisher {
  readonly #d: PublisherDeps;
  readonly #o: PublisherOptions;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  readonly #targets = new Map<string, Target>();
  /** nodeId → until when (ms) it stays out of the push set. */
  readonly #dropped = new Map<string, number>();
  /** rung → its current init. */
  readonly #currentInit = new Map<string, Pushed>();
  /** rung → its last few segments, for backfilling a new relay. */
  readonly #recent = new Map<string, Pushed[]>();
  /** The newest segment published: a stream end names its attestation digest. */
  #lastSegment: SegmentAttestation | undefined;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(deps: PublisherDeps, options: Partial<PublisherOptions> = {}) {
    this.#d = deps;
    this.#o = { ...PUBLISHER_DEFAULTS, ...options };
    this.#fetch = deps.fetch ?? fetch;
    this.#now = deps.now ?? Date.now;
  }

  get targets(): NodeInfo[] {
    return [...this.#targets.values()].map((t) => t.info);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs);
    this.#watchdog = setInterval(() => this.#dropStalled(), WATCHDOG_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#watchdog);
    for (const t of this.#targets.values()) t.abort.abort();
  }

  /** Resolves once every relay has tried everything queued so far (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#targets.values()].map((t) => t.queue));
  }

  /** Re-reads the ingest relays; new ones get the current init (and a short backfill) first. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const nodes = await this.#d.resolveIngest();
        const now = this.#now();
        for (const [id, until] of this.#dropped) if (until <= now) this.#dropped.delete(id);
        const fresh = nodes.filter((n) => !this.#dropped.has(n.nodeId));
        // Only dropped relays left: trying them again beats pushing nowhere.
        const usable = fresh.length > 0 ? fresh : nodes;
        const ids = new Set<string>(usable.map((n) => n.nodeId));
        for (const [id, t] of this.#targets) {
          if (ids.has(id)) continue;
          t.abort.abort();
          this.#targets.delete(id);
        }
        for (const n of usable) {
          const existing = this.#targets.get(n.nodeId);
          if (existing) existing.info = n;
          else this.#add(n);
        }
        if (this.#targets.size === 0)
          this.#d.log.warn("no ingest relay for stream", { streamId: this.#d.streamId });
      } catch (err) {
        this.#d.log.warn("cannot refresh ingest relays", { streamId: this.#d.streamId, err });
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  #add(n: NodeInfo): void {
    const t: Target = {
      info: n,
      queue: Promise.resolve(),
      pendingSince: [],
      abort: new AbortController(),
      initSent: new Map(),
    };
    this.#targets.set(n.nodeId, t);
    this.#d.log.info("pushing to ingest relay", { streamId: this.#d.streamId, nodeId: n.nodeId, url: n.url });
    for (const [rung, init] of this.#currentInit) {
      const recent = this.#recent.get(rung) ?? [];
      for (const seg of recent.filter((s) => s.init === init.init)) this.#enqueuePut(t, seg);
      this.#enqueueInitIfNeeded(t, rung);
    }
  }

  async #attest(
    rendition: string,
    seq: number,
    initVersion: number,
    bytes: Buffer,
    durationMs: number,
  ): Promise<SegmentAttestation> {
    return signSegmentAttestation(this.#d.signer, this.#d.domain(), {
      streamId: this.#d.streamId,
      rendition,
      seq,
      initVersion,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs,
      producedAt: this.#now(),
    });
  }

  /**
   * Signs a rung's init (attested for that rung: a relay cannot serve it as
   * another's) and queues it on every relay; returns without waiting for any.
   */
  async publishInit(version: number, bytes: Buffer, rung: string = SOURCE_RUNG): Promise<SegmentAttestation> {
    const att = await this.#attest(renditionName(rung, "init"), version, version, bytes, 0);
    this.#currentInit.set(rung, {
      rung,
      file: rungFile(rung, initFileName(version)),
      att,
      bytes,
      init: version,
    });
    this.#recent.set(rung, []);
    for (const t of this.#targets.values()) this.#enqueueInitIfNeeded(t, rung);
    return att;
  }

  /** Signs a rung's segment and queues it on every relay; returns without waiting for any. */
  async publishSegment(
    seq: number,
    init: number,
    bytes: Buffer,
    durationMs: number,
    rung: string = SOURCE_RUNG,
  ): Promise<SegmentAttestation> {
    const att = await this.#attest(renditionName(rung, "segment"), seq, init, bytes, durationMs);
    const obj: Pushed = { rung, file: rungFile(rung, segmentFileName(seq)), att, bytes, init };
    if (rung === SOURCE_RUNG) this.#lastSegment = att;
    this.#recent.set(rung, [...(this.#recent.get(rung) ?? []), obj].slice(-this.#o.backfillSegments));
    for (const t of this.#targets.values()) this.#enqueuePut(t, obj);
    return att;
  }

  /**
   * Signs a Low-Latency HLS part of segment `seq` (still in progress) and
   * queues it on every relay, ahead of the segment it belongs to. A relay
   * that refuses it is not retried with it: the whole segment follows anyway.
   */
  async publishPart(
    seq: number,
    init: number,
    part: CutPart,
    partTargetMs: number,
  ): Promise<PartAttestation> {
    const att = await signPartAttestation(this.#d.signer, this.#d.domain(), {
      streamId: this.#d.streamId,
      rendition: RENDITION_MAIN,
      seq,
      part: part.index,
      initVersion: init,
      sha256: sha256Hex(part.bytes),
      byteLength: part.bytes.length,
      durationMs: part.durationMs,
      independent: part.independent,
      partTargetMs,
      producedAt: this.#now(),
    });
    const obj: PushedPart = { file: partFileName(seq, part.index), att, bytes: part.bytes };
    for (const t of this.#targets.values()) {
      // A relay that has not taken this segment's init yet cannot place the part; the segment follows.
      if (t.initSent.get(SOURCE_RUNG) !== init) continue;
      this.#enqueue(t, () =>
        this.#send(t, "PUT", obj.file, obj.bytes, {
          "content-type": "application/octet-stream",
          [HEADER_PART_ATTESTATION]: encodePartAttestationHeader(obj.att),
        }),
      );
    }
    return att;
  }

  async publishEnd(lastSeq: number): Promise<void> {
    const last = this.#lastSegment;
    if (last?.seq !== lastSeq) {
      this.#d.log.warn("no published segment to end after", { streamId: this.#d.streamId, lastSeq });
      return;
    }
    const end = await signStreamEnd(this.#d.signer, {
      streamId: this.#d.streamId,
      lastSeq,
      lastAttestation: attestationDigest(last, this.#d.domain()),
      producedAt: this.#now(),
    });
    const body = JSON.stringify(end);
    for (const t of this.#targets.values()) {
      this.#enqueue(t, () => this.#send(t, "POST", "end", body, { "content-type": "application/json" }));
    }
    await this.idle();
  }

  #enqueueInitIfNeeded(t: Target, rung: string): void {
    const init = this.#currentInit.get(rung);
    if (!init || t.initSent.get(rung) === init.init) return;
    t.initSent.set(rung, init.init); // queued: later objects follow it in this relay's order
    this.#enqueue(t, async () => {
      if ((await this.#put(t, init)) !== "ok") t.initSent.delete(rung);
    });
  }

  #enqueuePut(t: Target, obj: Pushed): void {
    this.#enqueueInitIfNeeded(t, obj.rung);
    this.#enqueue(t, async () => {
      if ((await this.#put(t, obj)) !== "init-missing") return;
      // The relay lost its state (restarted): the init first, then this object again.
      const init = this.#currentInit.get(obj.rung);
      if (init && init.init === obj.init && (await this.#put(t, init)) === "ok") await this.#put(t, obj);
    });
  }

  #enqueue(t: Target, task: () => Promise<unknown>): void {
    t.pendingSince.push(this.#now());
    t.queue = t.queue
      .then(() => (t.abort.signal.aborted ? undefined : task()))
      .then(
        () => undefined,
        (err: unknown) => this.#d.log.warn("push task failed", { err }),
      )
      .finally(() => {
        t.pendingSince.shift();
      });
  }

  /** The watchdog: a relay whose oldest queued object has waited past `stallMs` is dropped. */
  #dropStalled(): void {
    const now = this.#now();
    for (const t of [...this.#targets.values()]) {
      const oldest = t.pendingSince[0];
      if (oldest !== undefined && now - oldest > this.#o.stallMs) {
        this.#drop(t, `no object taken for ${now - oldest} ms`);
      }
    }
  }

  #drop(t: Target, reason: string): void {
    if (this.#targets.get(t.info.nodeId) !== t) return;
    this.#targets.delete(t.info.nodeId);
    t.abort.abort();
    this.#dropped.set(t.info.nodeId, this.#now() + this.#o.dropForMs);
    this.#d.log.warn("ingest relay dropped", {
      streamId: this.#d.streamId,
      nodeId: t.info.nodeId,
      reason,
    });
    this.#d.onDropped?.(t.info.nodeId, reason);
    void this.#d
      .reportIngestFailure?.(t.info.nodeId, reason)
      .catch((err: unknown) => this.#d.log.warn("cannot report a dropped ingest relay", { err }))
      .finally(() => void this.refresh());
    if (!this.#d.reportIngestFailure) void this.refresh();
  }

  #put(t: Target, obj: Pushed): Promise<SendOutcome> {
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      [HEADER_ATTESTATION]: encodeAttestationHeader(obj.att),
      [HEADER_INIT_VERSION]: String(obj.init),
    };
    return this.#send(t, "PUT", obj.file, obj.bytes, headers);
  }

  /**
   * Sends one object, retrying failures until the relay is aborted (the
   * watchdog dropped it): a refusal on principle (4xx) is final for the
   * object, never for the relay.
   */
  async #send(
    t: Target,
    method: string,
    file: string,
    body: Buffer | string,
    headers: Record<string, string>,
  ): Promise<SendOutcome> {
    const url = `${t.info.url}/live/${this.#d.streamId}/${file}`;
    const payload =
      typeof body === "string"
        ? body
        : new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength);
    let lastError: unknown;
    while (!t.abort.signal.aborted) {
      try {
        // A relay answering with a redirect is refused: signed bytes go only to the URL the coordinator named.
        const res = await this.#fetch(url, {
          method,
          headers,
          body: payload,
          signal: t.abort.signal,
          redirect: "manual",
        });
        const text = await res.text();
        if (res.ok) {
          this.#d.onPushed?.(t.info.nodeId, true);
          return "ok";
        }
        lastError = new SrpError(
          "UPSTREAM_FAILED",
          `${method} ${url}: HTTP ${res.status} ${text.slice(0, 200)}`,
        );
        // A relay that refuses this object on principle will not change its mind; 404 is "stream unknown yet".
        if (res.status === 409 && text.includes('"INIT_NOT_HELD"')) return "init-missing";
        if (res.status === 503 && text.includes('"DRAINING"')) {
          this.#drop(t, "the relay is draining");
          return "draining";
        }
        if (res.status >= 400 && res.status < 500 && res.status !== 404 && res.status !== 429) break;
      } catch (err) {
        lastError = err;
      }
      await sleep(RETRY_DELAY_MS, undefined, { signal: t.abort.signal }).catch(() => {});
    }
    this.#d.onPushed?.(t.info.nodeId, false);
    if (!t.abort.signal.aborted) {
      this.#d.log.warn("push refused", {
        streamId: this.#d.streamId,
        nodeId: t.info.nodeId,
        file,
        err: lastError,
      });
    }
    return "refused";
  }
}
