import {
  base64urlToBytes,
  parseMediaPlaylist,
  parseWith,
  StreamEndSchema,
  verifyStreamEnd,
} from "@streamrp2p/protocol";
import { AttemptError } from "./fetch-with-failover.ts";

/** A live playlist that has not advanced for this many target durations is a frozen node… */
const STALE_TARGET_DURATIONS = 3;
/** …and never sooner than this. */
const MIN_STALE_MS = 3_000; // ms

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

  constructor(
    private readonly streamId: string,
    private readonly signer: string,
    private readonly now: () => number = Date.now,
    maxNodes = 256,
  ) {
    this.#maxNodes = maxNodes;
  }

  /** Throws AttemptError ("unverifiable", "tampered" or "stale") unless the playlist can be trusted now. */
  async check(nodeId: string, text: string, endHeader: string | null): Promise<void> {
    let playlist: ReturnType<typeof parseMediaPlaylist>;
    try {
      playlist = parseMediaPlaylist(text);
    } catch (err) {
      throw new AttemptError("unverifiable", `playlist: ${String(err)}`);
    }
    const edge = playlist.segments.at(-1)?.mediaSequence ?? -1;
    if (playlist.ended) {
      await this.#checkEnd(edge, endHeader);
      return;
    }
    const now = this.now();
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
      await verifyStreamEnd(end, this.signer);
    } catch (err) {
      if (err instanceof AttemptError) throw err;
      throw new AttemptError("tampered", `ENDLIST: ${String(err)}`);
    }
  }
}
