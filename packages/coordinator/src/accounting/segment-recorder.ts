import {
  AttestationVerifier,
  checkAttestationFor,
  type SigningDomain,
  StreamWindowSchema,
  WINDOW_FILE,
} from "@streamrp2p/protocol";
import { requestJson } from "@streamrp2p/service";
import type { AccountingStore, SegmentRow } from "./store.ts";

export interface RecorderTarget {
  streamId: string;
  signer: string;
  /** Ingest relays of the stream, best first. */
  urls: string[];
}

/** Read positions remembered at most (stream × ingest relay); past it the oldest are forgotten (and re-read). */
const MAX_POSITIONS = 10_000;

/**
 * The segment ledger: what each stream really produced (seq, size, time),
 * read from every ingest relay's window and kept only when the origin's
 * signature verifies. It is the union of what they all hold: one relay that
 * hides segments cannot shrink the ledger (and with it every honest node's
 * plausible credit) while another one serves them. It is the yardstick for
 * plausibility caps and for how far from the live edge a probed node is.
 */
export class SegmentRecorder {
  /** `${streamId} ${url}` → the newest media seq read from that relay: each is read from its own position. */
  readonly #positions = new Map<string, number>();
  readonly #attestations: AttestationVerifier;
  /** streamId → newest media seq recorded; bounded like the positions. */
  readonly #edges = new Map<string, number>();

  constructor(
    private readonly store: AccountingStore,
    domain: SigningDomain,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.#attestations = new AttestationVerifier(domain);
  }

  /** The newest media seq recorded for a stream (from verified attestations), if any. */
  edgeOf(streamId: string): number | undefined {
    return this.#edges.get(streamId);
  }

  /** Reads every ingest relay's window per stream; returns how many segment rows were offered to the ledger. */
  async record(targets: RecorderTarget[]): Promise<number> {
    let added = 0;
    let failure: unknown;
    for (const t of targets) {
      const rows = new Map<string, SegmentRow>();
      const read = new Map<string, number>();
      await Promise.all(
        t.urls.map(async (url) => {
          try {
            const got = await this.#readFrom(t, url);
            for (const row of got.rows) rows.set(`${row.rendition} ${row.seq}`, row);
            read.set(`${t.streamId} ${url}`, got.newest);
          } catch {
            // that ingest relay is down or lying: the others' windows still count
          }
        }),
      );
      // The ledger keeps the first row per (stream, rendition, seq): a relay cannot rewrite history.
      try {
        await this.store.upsertSegments([...rows.values()]);
      } catch (err) {
        // Not written (the database is down, or refuses this stream's rows): read them again
        // next time, and go on with the other streams.
        failure ??= err;
        continue;
      }
      for (const [key, newest] of read) {
        this.#positions.delete(key);
        this.#positions.set(key, newest);
        if (this.#positions.size > MAX_POSITIONS)
          this.#positions.delete(this.#positions.keys().next().value as string);
      }
      for (const r of rows.values()) {
        if (r.rendition === "init" || r.seq <= (this.#edges.get(t.streamId) ?? -1)) continue;
        this.#edges.delete(t.streamId);
        this.#edges.set(t.streamId, r.seq);
      }
      if (this.#edges.size > MAX_POSITIONS) this.#edges.delete(this.#edges.keys().next().value as string);
      added += [...rows.values()].filter((r) => r.rendition !== "init").length;
    }
    if (failure !== undefined) throw failure;
    return added;
  }

  /** The verified rows after this reader's position, and the newest media seq among them. */
  async #readFrom(t: RecorderTarget, base: string): Promise<{ rows: SegmentRow[]; newest: number }> {
    const key = `${t.streamId} ${base}`;
    const after = this.#positions.get(key) ?? -1;
    const win = await requestJson(
      this.fetchImpl,
      `${base}/live/${encodeURIComponent(t.streamId)}/${WINDOW_FILE}?after=${after}`,
      StreamWindowSchema,
    );
    const rows: SegmentRow[] = [];
    let newest = after;
    const listed = [
      ...win.inits.map((a) => ({ a, kind: "init" as const })),
      ...win.segments.map((s) => ({ a: s.attestation, kind: "segment" as const })),
    ];
    for (const { a, kind } of listed) {
      checkAttestationFor(a, t.streamId, { kind, seq: a.seq });
      await this.#attestations.verify(a, t.signer);
      rows.push({
        streamId: a.streamId,
        rendition: a.rendition,
        seq: a.seq,
        byteLength: a.byteLength,
        durationMs: a.durationMs,
        producedAt: a.producedAt,
      });
      if (kind === "segment") newest = Math.max(newest, a.seq);
    }
    return { rows, newest };
  }
}
