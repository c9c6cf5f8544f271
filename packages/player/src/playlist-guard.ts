import {
  base64urlToBytes,
  parseMediaFileName,
  parseMediaPlaylist,
  parseWith,
  StreamEndSchema,
  streamEndApplies,
  verifyStreamEnd,
} from "@streamrp2p/protocol";
import { AttemptError } from "./fetch-with-failover.ts";

/**
 * Fetches and verifies the streamer's attestation of segment `seq` from the
 * node whose playlist is being checked (a HEAD of the segment): the signed
 * fact that makes a jump in numbers believable. undefined when the node has
 * no such signed segment.
 */
export type ProveSegment = (seq: number) => Promise<{ durationMs: number; initVersion: number } | undefined>;

/** A live playlist that has not advanced for this many target durations is a frozen node… */
const STALE_TARGET_DURATIONS = 3;
/** …and never sooner than this. */
const MIN_STALE_MS = 3_000; // ms
/**
 * Segments a playlist may list beyond the newest verified one plus what could
 * have been produced since it arrived: a player plays a few segments behind
 * the live edge, and relays announce segments still in flight.
 */
const EDGE_SLACK_SEGMENTS = 8;
/** Verified segments whose signed init is remembered: more than any live window lists. */
const SIGNED_INITS_KEPT = 64;

/**
 * Checks what a node says about the live window, which no signature covers
 * segment by segment: an ENDLIST must come with the streamer's signed end for
 * exactly this window (or a relay could end the show for its viewers), and a
 * live playlist must keep advancing (or a relay could freeze its viewers with
 * 200s). Either lie is a node failure: the player moves to another node.
 */
export class PlaylistGuard {
  /** nodeId → the newest edge seen from it and since when (ms). Bounded by the pool. */
  readonly #edges = new Map<string, { edge: number; since: number }>();
  readonly #maxNodes: number;
  /** The newest segment this player verified (signed seq and duration; when it arrived, by our clock). */
  #verified: { seq: number; arrivedAt: number; durationMs: number } | undefined;
  /** The highest edge any node showed that was not a lie: an end must not end before it. */
  #highestEdge = -1;
  /** seq → the init version its attestation signs, for the newest verified segments (bounded). */
  readonly #signedInit = new Map<number, number>();
  /** seq → the init the last accepted playlist maps it to (its segments, in-progress parts, preload hint). */
  #mappedInit = new Map<number, number>();

  constructor(
    private readonly streamId: string,
    private readonly signer: string,
    private readonly now: () => number = Date.now,
    maxNodes = 256,
  ) {
    this.#maxNodes = maxNodes;
  }

  /** A segment whose attestation verified: signed facts no playlist can contradict. */
  verified(seq: number, durationMs: number, initVersion: number): void {
    if (!this.#verified || seq > this.#verified.seq)
      this.#verified = { seq, arrivedAt: this.now(), durationMs };
    this.#signedInit.set(seq, initVersion);
    if (this.#signedInit.size > SIGNED_INITS_KEPT)
      this.#signedInit.delete(this.#signedInit.keys().next().value as number);
  }

  /**
   * Throws AttemptError ("unverifiable", "tampered" or "stale") unless the
   * playlist can be trusted now. `prove` lets a playlist whose edge lies
   * beyond what could exist (an origin restart jumps to its next reserved
   * numbers) show the streamer's signature for that edge instead.
   */
  async check(nodeId: string, text: string, endHeader: string | null, prove?: ProveSegment): Promise<void> {
    let playlist: ReturnType<typeof parseMediaPlaylist>;
    try {
      playlist = parseMediaPlaylist(text);
    } catch (err) {
      throw new AttemptError("unverifiable", `playlist: ${String(err)}`);
    }
    const edge = playlist.segments.at(-1)?.mediaSequence ?? -1;
    const now = this.now();
    await this.#checkEdgePlausible(edge, now, prove);
    this.#checkInits(playlist.segments);
    if (playlist.ended) {
      await this.#checkEnd(edge, endHeader);
      return;
    }
    this.#highestEdge = Math.max(this.#highestEdge, edge);
    this.#mappedInit = mappedInits(text);
    const seen = this.#edges.get(nodeId);
    if (!seen || edge > seen.edge) {
      this.#edges.delete(nodeId);
      this.#edges.set(nodeId, { edge, since: now });
      if (this.#edges.size > this.#maxNodes) this.#edges.delete(this.#edges.keys().next().value as string);
      return;
    }
    const staleMs = Math.max(MIN_STALE_MS, STALE_TARGET_DURATIONS * playlist.targetDurationS * 1000);
    if (now - seen.since > staleMs) {
      throw new AttemptError("stale", `playlist has not advanced past ${edge} for ${now - seen.since} ms`);
    }
  }

  /**
   * A part is decoded with the init the playlist maps its segment to: a part
   * whose signed init is another (a relay mixing broadcasts, or a playlist
   * mapping the segment in progress to the wrong init) is refused like a
   * tampered one. Throws AttemptError "tampered".
   */
  checkPartInit(seq: number, part: number, initVersion: number): void {
    const mapped = this.#mappedInit.get(seq);
    if (mapped !== undefined && mapped !== initVersion) {
      throw new AttemptError(
        "tampered",
        `part ${seq}.${part} is signed for init ${initVersion}; the playlist maps segment ${seq} to init ${mapped}`,
      );
    }
  }

  /**
   * A playlist must map each segment to the init its attestation signs: one
   * that maps a segment this player verified to another init (which hls.js
   * would decode it with) is a lie.
   */
  #checkInits(segments: ReturnType<typeof parseMediaPlaylist>["segments"]): void {
    for (const s of segments) {
      const signed = this.#signedInit.get(s.mediaSequence);
      if (signed === undefined) continue;
      const mapped = s.mapUri === undefined ? undefined : parseMediaFileName(s.mapUri);
      if (mapped?.kind !== "init" || mapped.version !== signed) {
        throw new AttemptError(
          "tampered",
          `playlist maps segment ${s.mediaSequence} to ${s.mapUri ?? "no init"}; its attestation signs init ${signed}`,
        );
      }
    }
  }

  /**
   * A playlist cannot list segments the streamer has not had time to sign:
   * past the newest verified segment, at most one per segment duration since
   * it arrived (our clock: no skew with the origin's) and some slack. Made-up
   * sequence numbers that keep a frozen node looking fresh are a lie.
   */
  async #checkEdgePlausible(edge: number, now: number, prove: ProveSegment | undefined): Promise<void> {
    const v = this.#verified;
    if (!v || v.durationMs <= 0) return;
    const possible =
      v.seq + Math.max(0, Math.floor((now - v.arrivedAt) / v.durationMs)) + EDGE_SLACK_SEGMENTS;
    if (edge <= possible) return;
    // A restarted origin numbers from its next reserved block: the signed edge segment proves the jump.
    const signed = await prove?.(edge).catch(() => undefined);
    if (signed) {
      this.verified(edge, signed.durationMs, signed.initVersion);
      return;
    }
    throw new AttemptError(
      "tampered",
      `playlist lists segment ${edge}; at most ${possible} can exist by now`,
    );
  }

  async #checkEnd(edge: number, header: string | null): Promise<void> {
    if (!header) throw new AttemptError("tampered", "ENDLIST without the streamer's signed end");
    try {
      const end = parseWith(
        StreamEndSchema,
        JSON.parse(new TextDecoder().decode(base64urlToBytes(header))),
        "stream end",
      );
      if (end.streamId !== this.streamId || end.lastSeq !== edge) {
        throw new Error(
          `the signed end is for ${end.streamId} after ${end.lastSeq}, the playlist ends at ${edge}`,
        );
      }
      // Ends are public: an old broadcast's end replayed while the stream is live past it is a lie.
      const seen = Math.max(this.#highestEdge, this.#verified?.seq ?? -1);
      if (!streamEndApplies(end, seen)) {
        throw new Error(`the signed end after ${end.lastSeq} is older than segment ${seen}, already seen`);
      }
      await verifyStreamEnd(end, this.signer);
    } catch (err) {
      if (err instanceof AttemptError) throw err;
      throw new AttemptError("tampered", `ENDLIST: ${String(err)}`);
    }
  }
}

/** seq → init version, as a playlist's EXT-X-MAP lines map its segments, parts and preload hint. */
function mappedInits(text: string): Map<number, number> {
  const out = new Map<number, number>();
  let init: number | undefined;
  for (const line of text.split(/\r?\n/)) {
    const uri = /URI="([^"]+)"/.exec(line)?.[1] ?? (line.startsWith("#") ? undefined : line.trim());
    if (!uri) continue;
    const file = parseMediaFileName(uri);
    if (line.startsWith("#EXT-X-MAP:")) init = file?.kind === "init" ? file.version : undefined;
    else if (init !== undefined && (file?.kind === "segment" || file?.kind === "part"))
      out.set(file.seq, init);
  }
  return out;
}
