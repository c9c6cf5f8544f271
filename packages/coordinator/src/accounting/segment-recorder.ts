import {
  AttestationVerifier,
  checkAttestationFor,
  RENDITION_MAIN,
  rungPath,
  type SigningDomain,
  SOURCE_RUNG,
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
 * A stream with an adaptive-bitrate ladder has every rung in it (each rung's
 * window, read where the source's names it): the cap counts the largest
 * rung per second (protocol creditYardstick).
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
            for (const got of await this.#readAll(t, url)) {
              for (const row of got.rows) rows.set(`${row.rendition} ${row.seq}`, row);
              read.set(got.key, got.newest);
            }
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
        if (r.rendition !== RENDITION_MAIN || r.seq <= (this.#edges.get(t.streamId) ?? -1)) continue;
        this.#edges.delete(t.streamId);
        this.#edges.set(t.streamId, r.seq);
      }
      if (this.#edges.size > MAX_POSITIONS) this.#edges.delete(this.#edges.keys().next().value as string);
      added += [...rows.values()].filter((r) => r.rendition === RENDITION_MAIN).length;
    }
    if (failure !== undefined) throw failure;
    return added;
  }

  /** The source's window from one relay, then the window of every rung it names there. */
  async #readAll(t: RecorderTarget, base: string) {
    const source = await this.#readFrom(t, base, SOURCE_RUNG);
    const out = [source];
    for (const rung of source.renditions) {
      try {
        out.push(await this.#readFrom(t, base, rung));
      } catch {
        // a rung this relay cannot show now is read next time; the source's rows still count
      }
    }
    return out;
  }

  /** The verified rows of one rung's window after this reader's position, and the newest media seq among them. */
  async #readFrom(
    t: RecorderTarget,
    base: string,
    rung: string,
  ): Promise<{ key: string; rows: SegmentRow[]; newest: number; renditions: string[] }> {
    const key = `${rungPath(t.streamId, rung)} ${base}`;
    const after = this.#positions.get(key) ?? -1;
    const win = await requestJson(
      this.fetchImpl,
      `${base}/live/${rungPath(encodeURIComponent(t.streamId), rung)}/${WINDOW_FILE}?after=${after}`,
      StreamWindowSchema,
    );
    const rows: SegmentRow[] = [];
    let newest = after;
    const listed = [
      ...win.inits.map((a) => ({ a, kind: "init" as const })),
      ...win.segments.map((s) => ({ a: s.attestation, kind: "segment" as const })),
    ];
    for (const { a, kind } of listed) {
      checkAttestationFor(a, t.streamId, { kind, seq: a.seq, rung });
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
    return { key, rows, newest, renditions: rung === SOURCE_RUNG ? (win.renditions ?? []) : [] };
  }
}
