import { MAX_PARTS_PER_SEGMENT, type PartAttestation, type PlaylistPart } from "@streamrp2p/protocol";
import type { MediaObject } from "./media-object.ts";

export type PartObject = MediaObject<PartAttestation>;

/**
 * Parts are kept for the segment in progress and this many complete ones:
 * players list parts for about 3 target durations back, and a downstream
 * relay that joins mid-stream gets the recent ones.
 */
export const PARTS_KEPT_SEGMENTS = 4;

/**
 * One stream's Low-Latency HLS parts on a relay, bounded: at most
 * PARTS_KEPT_SEGMENTS + 1 segments' worth, MAX_PARTS_PER_SEGMENT each.
 */
export class PartWindow {
  /** seq → part index → object; seqs in ascending insertion order is not assumed. */
  readonly #bySeq = new Map<number, Map<number, PartObject>>();
  /** The part target the origin announced in its newest part (ms). */
  #partTargetMs: number | undefined;

  get partTargetMs(): number | undefined {
    return this.#partTargetMs;
  }

  get(seq: number, part: number): PartObject | undefined {
    return this.#bySeq.get(seq)?.get(part);
  }

  put(obj: PartObject): void {
    const a = obj.attestation;
    let parts = this.#bySeq.get(a.seq);
    if (!parts) {
      parts = new Map();
      this.#bySeq.set(a.seq, parts);
    }
    parts.set(a.part, obj);
    this.#partTargetMs = a.partTargetMs;
    while (this.#bySeq.size > PARTS_KEPT_SEGMENTS + 1) this.#bySeq.delete(Math.min(...this.#bySeq.keys()));
  }

  remove(obj: PartObject): boolean {
    const parts = this.#bySeq.get(obj.attestation.seq);
    if (parts?.get(obj.attestation.part) !== obj) return false;
    parts.delete(obj.attestation.part);
    return true;
  }

  /** Forgets parts of segments older than PARTS_KEPT_SEGMENTS before `edge`. */
  prune(edge: number): void {
    for (const seq of [...this.#bySeq.keys()]) if (seq <= edge - PARTS_KEPT_SEGMENTS) this.#bySeq.delete(seq);
  }

  /** Parts 0, 1, ... of `seq` without a gap: what a playlist may list (a gap cannot be played over). */
  contiguous(seq: number): PartObject[] {
    const parts = this.#bySeq.get(seq);
    const out: PartObject[] = [];
    if (!parts) return out;
    for (let i = 0; i < MAX_PARTS_PER_SEGMENT; i++) {
      const p = parts.get(i);
      if (!p) break;
      out.push(p);
    }
    return out;
  }

  /**
   * The parts of a complete segment of `byteLength` bytes, when the relay
   * holds all of them (their sizes add up to it); else none: a playlist never
   * lists a partial set of parts for a finished segment.
   */
  completeSet(seq: number, byteLength: number): PartObject[] {
    const parts = this.contiguous(seq);
    const total = parts.reduce((n, p) => n + p.attestation.byteLength, 0);
    return total === byteLength ? parts : [];
  }

  static listed(parts: readonly PartObject[]): PlaylistPart[] {
    return parts.map((p) => ({
      durationMs: p.attestation.durationMs,
      independent: p.attestation.independent,
    }));
  }

  /** Every part after (afterSeq, afterPart), in order: what a downstream relay has not seen. */
  after(afterSeq: number, afterPart: number): PartObject[] {
    const out: PartObject[] = [];
    for (const seq of [...this.#bySeq.keys()].sort((a, b) => a - b)) {
      if (seq < afterSeq) continue;
      const parts = this.#bySeq.get(seq) as Map<number, PartObject>;
      for (const i of [...parts.keys()].sort((a, b) => a - b)) {
        if (seq === afterSeq && i <= afterPart) continue;
        out.push(parts.get(i) as PartObject);
      }
    }
    return out;
  }

  /** Whether a part newer than (seq, part) is held. */
  hasAfter(seq: number, part: number): boolean {
    for (const [s, parts] of this.#bySeq) {
      if (s > seq && parts.size > 0) return true;
      if (s === seq) for (const i of parts.keys()) if (i > part) return true;
    }
    return false;
  }
}
