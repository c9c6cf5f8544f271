import {
  type SegmentAttestation,
  StreamWindowSchema,
  verifySegmentAttestation,
  WINDOW_FILE,
} from "@streamrp2p/protocol";
import { requestJson } from "@streamrp2p/service";
import type { AccountingStore } from "./store.ts";

export interface RecorderTarget {
  streamId: string;
  signer: string;
  /** Ingest relays of the stream, best first. */
  urls: string[];
}

/**
 * The segment ledger: what each stream really produced (seq, size, time),
 * read from ingest relays' windows and kept only when the origin's
 * signature verifies. It is the yardstick for plausibility caps and for
 * how far from the live edge a probed node is.
 */
export class SegmentRecorder {
  readonly #lastSeq = new Map<string, number>();
  readonly #verified = new Set<string>();

  constructor(
    private readonly store: AccountingStore,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Reads one window per stream; returns how many new segments were recorded. */
  async record(targets: RecorderTarget[]): Promise<number> {
    let added = 0;
    for (const t of targets) {
      for (const url of t.urls) {
        try {
          added += await this.#recordFrom(t, url);
          break;
        } catch {
          // that ingest relay is down or lying: try the next one
        }
      }
    }
    return added;
  }

  async #recordFrom(t: RecorderTarget, base: string): Promise<number> {
    const after = this.#lastSeq.get(t.streamId) ?? -1;
    const win = await requestJson(
      this.fetchImpl,
      `${base}/live/${t.streamId}/${WINDOW_FILE}?after=${after}`,
      StreamWindowSchema,
    );
    const fresh: SegmentAttestation[] = [...win.inits, ...win.segments.map((s) => s.attestation)].filter(
      (a) => !this.#verified.has(a.signature),
    );
    const rows = [];
    for (const a of fresh) {
      if (a.streamId !== t.streamId) continue;
      await verifySegmentAttestation(a, t.signer);
      this.#verified.add(a.signature);
      rows.push({
        streamId: a.streamId,
        rendition: a.rendition,
        seq: a.seq,
        byteLength: a.byteLength,
        durationMs: a.durationMs,
        producedAt: a.producedAt,
      });
      if (a.rendition !== "init")
        this.#lastSeq.set(t.streamId, Math.max(this.#lastSeq.get(t.streamId) ?? -1, a.seq));
    }
    if (this.#verified.size > 100_000) this.#verified.clear();
    await this.store.upsertSegments(rows);
    return rows.filter((r) => r.rendition !== "init").length;
  }
}
