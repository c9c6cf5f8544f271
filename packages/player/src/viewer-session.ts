import { CoordinatorEndpoints, withFailover } from "@streamrp2p/api-client/failover";
import {
  AttestationVerifier,
  blockingWaitMs,
  bytesToHex,
  CoordinatorInfoSchema,
  checkAttestationFor,
  checkMultivariantPlaylist,
  checkPartAttestationFor,
  decodeAttestationHeader,
  decodePartAttestationHeader,
  generateEd25519,
  HEADER_PART_ATTESTATION,
  HEADER_STREAM_END,
  LL_PLAYLIST_PARAM,
  type PartAttestation,
  parseMediaFileName,
  RankedNodesSchema,
  type SegmentAttestation,
  SessionGrantSchema,
  type SigningDomain,
  SOURCE_RUNG,
  StreamInfoSchema,
  segmentFileName,
  splitMediaPath,
  type Ticket,
  targetDurationOf,
} from "@streamrp2p/protocol";
import { requestJson } from "@streamrp2p/service/client";
import { z } from "zod";
import { PLAYER_DEFAULTS } from "./defaults.ts";
import { AllNodesFailed, AttemptError, type Attempted, fetchWithFailover } from "./fetch-with-failover.ts";
import { NodePool, type PoolNode } from "./node-pool.ts";
import { PlaylistGuard } from "./playlist-guard.ts";
import { ReceiptTracker } from "./receipts.ts";

export type PlayerDefaults = { -readonly [K in keyof typeof PLAYER_DEFAULTS]: number };

export interface ViewerSessionOptions extends Partial<PlayerDefaults> {
  /**
   * The coordinator's replicas, tried in this order with failover (the one
   * that answered last first; one that fails is tried last for a while).
   */
  coordinatorUrls?: readonly string[];
  /** One coordinator: the same as coordinatorUrls: [coordinatorUrl]. */
  coordinatorUrl?: string;
  streamId: string;
  region?: string;
  fetch?: typeof fetch;
}

export interface LoadTiming {
  /** performance.now() values of the attempt that succeeded: what hls.js's bandwidth estimate needs. */
  start: number;
  first: number;
  end: number;
}

export interface SessionStats {
  sessionId: string;
  currentNode: string | undefined;
  verifiedSegments: number;
  rejectedSegments: number;
  /** LL-HLS parts verified against the streamer's part attestations, and refused. */
  verifiedParts: number;
  rejectedParts: number;
  bytesReceived: number;
  switches: number;
  receiptsSent: number;
  evidenceSent: number;
  failures: number;
  /** Media bitrate of the last verified segment (attested bytes over attested duration). */
  bitrateBps: number;
}

export type SessionEvent =
  | { type: "switch"; from: string | undefined; to: string }
  | { type: "rejected"; nodeId: string; file: string; reason: string }
  | { type: "verified"; nodeId: string; file: string; bytes: number };

/** "master": the multivariant playlist of the stream's ladder; "playlist": one rung's media playlist. */
type Kind = "master" | "playlist" | "init" | "segment" | "part";

/** Verified segments whose signed durations set the target duration: about a playlist's window. */
const RECENT_DURATIONS_KEPT = 8;

/** What a playlist request may carry to a relay (LL-HLS asked for, delivery directives); nothing else of hls.js's URL is. */
const DIRECTIVES = [LL_PLAYLIST_PARAM, "_HLS_msn", "_HLS_part", "_HLS_skip"] as const;

function kindOf(parsed: ReturnType<typeof parseMediaFileName>): Kind {
  return parsed?.kind === "init" ||
    parsed?.kind === "segment" ||
    parsed?.kind === "part" ||
    parsed?.kind === "master"
    ? parsed.kind
    : "playlist";
}

/**
 * Reads a response body whole, aborting `idle` when no bytes arrive for
 * `idleMs`: a stalled body fails over in about that time, not at the request's
 * overall timeout.
 */
async function readBody(res: Response, idleMs: number, idle: AbortController): Promise<ArrayBuffer> {
  const reader = res.body?.getReader();
  if (!reader) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer = setTimeout(() => idle.abort(), idleMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), idleMs);
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    clearTimeout(timer);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

async function sha256Hex(data: ArrayBuffer): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/**
 * One viewer's session: its ticket and ephemeral key, the relays it may use,
 * verification of every init and media segment against the streamer's
 * signature, failover, evidence of tampering, and receipts.
 */
export class ViewerSession {
  readonly pool: NodePool;
  readonly ticket: Ticket;
  readonly signer: string;
  readonly #o: ViewerSessionOptions & PlayerDefaults;
  readonly #coordinators: CoordinatorEndpoints;
  readonly #receipts: ReceiptTracker;
  /** Signature checks remembered by the digest of everything signed (see AttestationVerifier). */
  readonly #attestations: AttestationVerifier;
  readonly #playlists: PlaylistGuard;
  /** The playlist's target duration (s): blocked requests (LL-HLS) may wait 3 of these at a relay. */
  /**
   * The target duration blocked requests wait BLOCK_TARGET_DURATIONS of (s):
   * from the streamer's signed durations of the recent segments, never from a
   * relay's playlist (a relay claiming a huge TARGETDURATION must not make
   * the player wait on it for longer). 1 until a segment is verified.
   */
  #targetDurationS = 1;
  /** The part target of the newest verified part (ms, signed by the streamer); undefined before one. */
  #partTargetMs: number | undefined;
  /** Signed durations of the newest verified segments (ms), bounded. */
  readonly #recentDurationsMs: number[] = [];
  /** The newest playlist a node served that was refused only as stale: used when every node is stale. */
  #lastStale: { node: PoolNode; data: string; timing: LoadTiming } | undefined;
  readonly #listeners = new Set<(e: SessionEvent) => void>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly stats: SessionStats;

  private constructor(
    o: ViewerSessionOptions & PlayerDefaults,
    coordinators: CoordinatorEndpoints,
    ticket: Ticket,
    viewerKey: CryptoKey,
    signer: string,
    nodes: PoolNode[],
    domain: SigningDomain,
  ) {
    this.#o = o;
    this.#coordinators = coordinators;
    this.#attestations = new AttestationVerifier(domain);
    this.ticket = ticket;
    this.signer = signer;
    this.pool = new NodePool(nodes);
    this.#playlists = new PlaylistGuard(ticket.streamId, signer);
    this.#receipts = new ReceiptTracker(ticket, viewerKey, (node, submission) =>
      this.#post(`${node.url}/v1/receipts`, submission),
    );
    this.stats = {
      sessionId: ticket.sessionId,
      currentNode: undefined,
      verifiedSegments: 0,
      rejectedSegments: 0,
      verifiedParts: 0,
      rejectedParts: 0,
      bytesReceived: 0,
      switches: 0,
      receiptsSent: 0,
      evidenceSent: 0,
      failures: 0,
      bitrateBps: 0,
    };
    this.#timers.push(setInterval(() => void this.flushReceipts(), o.receiptIntervalMs));
    this.#timers.push(setInterval(() => void this.refreshNodes(), o.nodesRefreshMs));
  }

  /** Asks the coordinator for a ticket and ranked relays; throws when the stream is unknown or has no relay. */
  static async open(options: ViewerSessionOptions): Promise<ViewerSession> {
    const o = { ...PLAYER_DEFAULTS, ...options };
    const urls = o.coordinatorUrls ?? (o.coordinatorUrl === undefined ? [] : [o.coordinatorUrl]);
    const coordinators = new CoordinatorEndpoints(urls);
    const call = ViewerSession.#coordinatorCall(o, coordinators);
    const keys = await generateEd25519();
    const stream = `/v1/streams/${encodeURIComponent(o.streamId)}`;
    const info = await call(stream, StreamInfoSchema);
    // The deployment the streamer's signatures are bound to: one made for another is refused.
    const { domain } = await call("/v1/info", CoordinatorInfoSchema);
    // A ticket asked again of the next replica after a timeout is simply another fresh ticket.
    const grant = await call(`${stream}/sessions`, SessionGrantSchema, {
      viewerKey: keys.publicKey,
      region: o.region,
    });
    if (grant.nodes.length === 0) throw new Error(`stream ${o.streamId} is offline: no relay carries it`);
    return new ViewerSession(
      o,
      coordinators,
      grant.ticket,
      keys.privateKey,
      info.signer,
      grant.nodes,
      domain,
    );
  }

  /** A schema-checked call to whichever coordinator replica answers (the same failover as the Node client). */
  static #coordinatorCall(o: ViewerSessionOptions & PlayerDefaults, coordinators: CoordinatorEndpoints) {
    const f = o.fetch ?? fetch.bind(globalThis);
    return <S extends z.ZodType>(path: string, schema: S, body?: unknown): Promise<z.output<S>> =>
      withFailover(coordinators, (base) =>
        requestJson(f, `${base}${path}`, schema, { body, timeoutMs: o.coordinatorTimeoutMs }),
      );
  }

  on(listener: (e: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: SessionEvent): void {
    for (const l of this.#listeners) l(e);
  }

  receiptTotals(): Record<string, number> {
    return this.#receipts.totals();
  }

  async flushReceipts(): Promise<void> {
    await this.#receipts.flush();
    this.stats.receiptsSent = this.#receipts.sent;
  }

  async refreshNodes(): Promise<void> {
    try {
      const region = this.#o.region ? `?region=${encodeURIComponent(this.#o.region)}` : "";
      const path = `/v1/streams/${encodeURIComponent(this.#o.streamId)}/nodes${region}`;
      const ranked = await ViewerSession.#coordinatorCall(this.#o, this.#coordinators)(
        path,
        RankedNodesSchema,
      );
      this.pool.replace(ranked.nodes);
    } catch {
      // keep the list we have
    }
  }

  /** The coordinator replica that answered last. */
  get coordinatorUrl(): string {
    return this.#coordinators.preferred;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.flushReceipts();
  }

  /**
   * Loads `path` (e.g. /live/demo/seg-5.m4s) from the best node that serves
   * it intact. Rejects only when every node failed.
   */
  async load(
    path: string,
    signal?: AbortSignal,
  ): Promise<Attempted<{ data: string | ArrayBuffer; timing: LoadTiming }>> {
    const [pathname = "", search = ""] = path.split("?", 2);
    const where = splitMediaPath(pathname);
    const file = where?.file ?? pathname.split("/").pop() ?? "";
    const rung = where?.rung ?? SOURCE_RUNG;
    const parsed = parseMediaFileName(file);
    const kind = kindOf(parsed);
    const query = new URLSearchParams(search);
    const directives = new URLSearchParams();
    for (const d of DIRECTIVES) {
      const v = query.get(d);
      if (v !== null && kind === "playlist") directives.set(d, v);
    }
    const blocking = kind === "part" || directives.has("_HLS_msn");
    let result: Attempted<{ data: string | ArrayBuffer; timing: LoadTiming }>;
    try {
      const target = { path: pathname, directives, blocking };
      result = await fetchWithFailover(
        this.pool,
        (node) => this.#attempt(node, target, kind, parsed, rung, signal),
        {
          penaltyMs: this.#o.penaltyMs,
          signal,
          onFailure: (node, err) => {
            this.stats.failures += 1;
            if (kind !== "playlist" && kind !== "master")
              this.#emit({
                type: "rejected",
                nodeId: node.nodeId,
                file,
                reason: `${err.kind}: ${err.message}`,
              });
          },
        },
      );
    } catch (err) {
      // Every node stale: the stream itself paused. Keep the last playlist; it is not any node's lie.
      const stale = this.#lastStale;
      if (!(err instanceof AllNodesFailed) || !stale || err.failures.some((f) => f.kind !== "stale"))
        throw err;
      result = {
        node: stale.node,
        value: { data: stale.data, timing: stale.timing },
        failures: err.failures,
      };
    }
    const previous = this.pool.current?.nodeId;
    if (this.pool.served(result.node.nodeId)) {
      this.stats.switches += 1;
      this.#emit({ type: "switch", from: previous, to: result.node.nodeId });
      void this.flushReceipts(); // the node we left gets its final tally now
    }
    this.stats.currentNode = this.pool.current?.nodeId ?? result.node.nodeId;
    return result;
  }

  async #attempt(
    node: PoolNode,
    target: { path: string; directives: URLSearchParams; blocking: boolean },
    kind: Kind,
    parsed: ReturnType<typeof parseMediaFileName>,
    rung: string,
    signal?: AbortSignal,
  ) {
    const { path } = target;
    const isPlaylist = kind === "playlist" || kind === "master";
    // A blocking reload or a preload-hinted part is held at the relay until it exists: that wait is no hang.
    const blockMs = target.blocking ? blockingWaitMs(this.#targetDurationS) : 0;
    const timeoutMs = blockMs + (isPlaylist ? this.#o.playlistTimeoutMs : this.#o.segmentTimeoutMs);
    const timeout = AbortSignal.timeout(timeoutMs);
    // A body whose bytes stop coming (a relay whose own upstream hung) is given up long before the timeout.
    const idle = new AbortController();
    const combined = AbortSignal.any(signal ? [signal, timeout, idle.signal] : [timeout, idle.signal]);
    const start = performance.now();
    let res: Response;
    // No answer at all for this long: the node (or its upstream) is hung; the next node is tried.
    // A blocked request waits for the next part (the streamer's signed part target), not 3 target durations.
    const heldMs =
      target.blocking && this.#partTargetMs !== undefined
        ? Math.min(blockMs, this.#o.blockedAnswerParts * this.#partTargetMs)
        : blockMs;
    const noAnswerMs = heldMs + this.#o.firstByteTimeoutMs;
    const noAnswer = setTimeout(() => idle.abort(), noAnswerMs);
    const query = new URLSearchParams(target.directives);
    query.set("session", this.ticket.sessionId);
    try {
      res = await (this.#o.fetch ?? fetch)(`${node.url}${path}?${query}`, {
        signal: combined,
      });
      if (res.status === 400 && target.directives.has("_HLS_msn")) {
        // A relay a little behind the one the last playlist came from refuses a reload "too far
        // ahead" (the spec's 400): it is not broken; its plain playlist lets hls.js catch up.
        await res.body?.cancel().catch(() => {});
        const plain = new URLSearchParams({ session: this.ticket.sessionId });
        const ll = target.directives.get(LL_PLAYLIST_PARAM);
        if (ll !== null) plain.set(LL_PLAYLIST_PARAM, ll);
        res = await (this.#o.fetch ?? fetch)(`${node.url}${path}?${plain}`, { signal: combined });
      }
    } catch (err) {
      const why = idle.signal.aborted ? `no answer in ${noAnswerMs} ms` : String(err);
      throw new AttemptError(timeout.aborted || idle.signal.aborted ? "timeout" : "network", why);
    } finally {
      clearTimeout(noAnswer);
    }
    const first = performance.now();
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new AttemptError("http", `HTTP ${res.status}`);
    }
    let data: string | ArrayBuffer;
    try {
      const body = await readBody(res, this.#o.bodyIdleTimeoutMs, idle);
      data = isPlaylist ? new TextDecoder().decode(body) : body;
    } catch (err) {
      const kindOf = timeout.aborted || idle.signal.aborted ? "timeout" : "network";
      throw new AttemptError(kindOf, `body: ${idle.signal.aborted ? "no bytes for too long" : String(err)}`);
    }
    const end = performance.now();
    if (kind === "master") {
      try {
        checkMultivariantPlaylist(data as string);
      } catch (err) {
        throw new AttemptError("tampered", `multivariant playlist: ${String(err)}`);
      }
    }
    if (kind === "playlist") {
      try {
        await this.#playlists.check(node.nodeId, data as string, res.headers.get(HEADER_STREAM_END), (seq) =>
          this.#proveSegment(node, path, seq, combined),
        );
      } catch (err) {
        if (err instanceof AttemptError && err.kind === "stale")
          this.#lastStale = { node, data: data as string, timing: { start, first, end } };
        throw err;
      }
    }
    if (parsed && (parsed.kind === "init" || parsed.kind === "segment")) {
      const seq = parsed.kind === "init" ? parsed.version : parsed.seq;
      await this.#verify(node, res, data as ArrayBuffer, parsed.kind, seq, rung, path);
      this.#receipts.record(node, (data as ArrayBuffer).byteLength, kind === "segment" ? seq : -1);
      this.stats.bytesReceived += (data as ArrayBuffer).byteLength;
      if (kind === "segment") this.stats.verifiedSegments += 1;
      this.#emit({
        type: "verified",
        nodeId: node.nodeId,
        file: path,
        bytes: (data as ArrayBuffer).byteLength,
      });
    }
    if (parsed?.kind === "part") {
      await this.#verifyPart(res, data as ArrayBuffer, parsed.seq, parsed.part, path);
      this.#receipts.record(node, (data as ArrayBuffer).byteLength, -1);
      this.stats.bytesReceived += (data as ArrayBuffer).byteLength;
      this.stats.verifiedParts += 1;
      this.#emit({
        type: "verified",
        nodeId: node.nodeId,
        file: path,
        bytes: (data as ArrayBuffer).byteLength,
      });
    }
    return { data, timing: { start, first, end } };
  }

  /**
   * Checks a part against the streamer's part attestation for exactly this
   * part of this segment of this stream (never a segment's, never another
   * part's). A lie fails this node over; a relay signs no delivery for a
   * part, so there is no fraud proof to send, only the rejection event.
   */
  async #verifyPart(
    res: Response,
    data: ArrayBuffer,
    seq: number,
    index: number,
    path: string,
  ): Promise<void> {
    const reject = (kind: "unverifiable" | "tampered", why: string) => {
      this.stats.rejectedParts += 1;
      return new AttemptError(kind, why);
    };
    let att: PartAttestation;
    try {
      att = decodePartAttestationHeader(res.headers.get(HEADER_PART_ATTESTATION) ?? undefined);
    } catch (err) {
      throw reject("unverifiable", `part attestation: ${String(err)}`);
    }
    try {
      checkPartAttestationFor(att, this.ticket.streamId, seq, index);
      await this.#attestations.verifyPart(att, this.signer);
      this.#playlists.checkPartInit(seq, index, att.initVersion);
      this.#partTargetMs = att.partTargetMs;
    } catch (err) {
      throw reject("tampered", `${path}: ${String(err)}`);
    }
    const served = await sha256Hex(data);
    if (served !== att.sha256 || data.byteLength !== att.byteLength)
      throw reject("tampered", `${path}: SHA-256 differs from the streamer's part attestation`);
  }

  /**
   * The streamer's verified attestation of segment `seq` as `node` holds it
   * (a HEAD next to the playlist at `playlistPath`), or undefined: what a
   * jump in a playlist's numbers (an origin restart) must show.
   */
  async #proveSegment(
    node: PoolNode,
    playlistPath: string,
    seq: number,
    signal: AbortSignal,
  ): Promise<SegmentAttestation | undefined> {
    const url = `${node.url}${playlistPath.replace(/[^/]*$/, segmentFileName(seq))}?session=${this.ticket.sessionId}`;
    const res = await (this.#o.fetch ?? fetch)(url, { method: "HEAD", signal });
    if (res.status !== 200) return undefined;
    const att = decodeAttestationHeader(res.headers.get("x-srp-attestation") ?? undefined);
    checkAttestationFor(att, this.ticket.streamId, { kind: "segment", seq });
    await this.#attestations.verify(att, this.signer);
    return att;
  }

  #signedDurationMs(durationMs: number): void {
    this.#recentDurationsMs.push(durationMs);
    if (this.#recentDurationsMs.length > RECENT_DURATIONS_KEPT) this.#recentDurationsMs.shift();
    this.#targetDurationS = targetDurationOf(this.#recentDurationsMs);
  }

  /** Checks bytes against the streamer's attestation for exactly this file; tampering is reported. */
  async #verify(
    node: PoolNode,
    res: Response,
    data: ArrayBuffer,
    kind: "init" | "segment",
    seq: number,
    rung: string,
    path: string,
  ): Promise<void> {
    let att: SegmentAttestation;
    try {
      att = decodeAttestationHeader(res.headers.get("x-srp-attestation") ?? undefined);
    } catch (err) {
      this.stats.rejectedSegments += 1;
      throw new AttemptError("unverifiable", `attestation: ${String(err)}`);
    }
    try {
      // The rung is the one the path names: a segment of another rung (or the source) is a lie.
      checkAttestationFor(att, this.ticket.streamId, { kind, seq, rung });
    } catch (err) {
      this.stats.rejectedSegments += 1;
      throw new AttemptError("tampered", `${path}: ${String(err)}`);
    }
    try {
      await this.#attestations.verify(att, this.signer);
    } catch (err) {
      this.stats.rejectedSegments += 1;
      throw new AttemptError("tampered", `attestation signature: ${String(err)}`);
    }
    const served = await sha256Hex(data);
    if (served === att.sha256 && data.byteLength === att.byteLength) {
      if (kind === "segment") {
        this.#playlists.verified(att.seq, att.durationMs, att.initVersion);
        this.#signedDurationMs(att.durationMs);
      }
      if (att.durationMs > 0)
        this.stats.bitrateBps = Math.round((att.byteLength * 8 * 1000) / att.durationMs);
      return;
    }
    this.stats.rejectedSegments += 1;
    void this.#reportTamper(node, att, served, data.byteLength, res.headers.get("x-srp-node-sig"));
    throw new AttemptError("tampered", `${path}: SHA-256 differs from the streamer's attestation`);
  }

  async #reportTamper(
    node: PoolNode,
    attestation: SegmentAttestation,
    servedSha256: string,
    servedBytes: number,
    nodeSignature: string | null,
  ): Promise<void> {
    try {
      await ViewerSession.#coordinatorCall(this.#o, this.#coordinators)("/v1/evidence", z.unknown(), {
        ticket: this.ticket, // evidence is taken only from a viewer of the stream
        streamId: this.ticket.streamId,
        nodeId: node.nodeId,
        attestation,
        servedSha256,
        servedBytes,
        nodeSignature,
      });
      this.stats.evidenceSent += 1;
    } catch {
      // evidence is best effort; the switch away from the node is what protects the viewer
    }
  }

  async #post(url: string, body: unknown): Promise<void> {
    const res = await (this.#o.fetch ?? fetch)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  }
}
