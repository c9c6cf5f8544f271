import { SrpError } from "./errors.ts";
import {
  type LowLatencyInput,
  listsPartsFrom,
  lowLatencyHeader,
  partLines,
  preloadHintLines,
  skippedSegments,
} from "./ll-hls.ts";
import { initFileName, segmentFileName } from "./wire.ts";

export interface PlaylistSegment {
  seq: number;
  durationMs: number;
  /** Init version the segment decodes with; a change is a discontinuity. */
  init: number;
  /** ms since the epoch when the origin finished the segment. */
  producedAt: number;
}

/** A playlist entry: a held segment, or a missing one of the same broadcast listed as `EXT-X-GAP`. */
export type PlaylistEntry = PlaylistSegment & { gap?: true };

export interface PlaylistInput {
  /** Held segments, ascending by seq; what is listed of them is `playlistRun`'s rule. */
  segments: readonly PlaylistSegment[];
  ended: boolean;
  /** Render a Low-Latency HLS playlist (parts, preload hint, server control); plain HLS without. */
  lowLatency?: LowLatencyInput;
}

/**
 * Missing segments inside one broadcast listed as gaps at most (more: the
 * playlist starts after them). A relay's window misses a segment only while
 * it refetches one that failed, so a long run of gaps is not worth listing.
 */
export const MAX_GAP_SEGMENTS = 3;

/**
 * Rule: which held segments a playlist lists. A media playlist numbers its
 * segments implicitly (EXT-X-MEDIA-SEQUENCE + position), so the entries must
 * be consecutive seqs. The origin jumps its seq on a restart (numbers are
 * reserved in blocks and never reused), so a window holding both broadcasts
 * (seq 8, then 100) lists only the newest one from its first segment: listing
 * both would number seg-100 as 9, and a player that saw segment 9 (hls.js
 * keeps the preload-hinted part's segment) then finds another file and
 * another discontinuity under that number. A segment missing inside one
 * broadcast (refetched after a failure) is an `EXT-X-GAP`: the numbers of
 * the others stay right and the sequence never moves backwards.
 */
export function playlistRun(segments: readonly PlaylistSegment[]): PlaylistEntry[] {
  const last = segments.at(-1);
  if (!last) return [];
  const run: PlaylistEntry[] = [last];
  let next = last;
  for (let i = segments.length - 2; i >= 0; i--) {
    const s = segments[i] as PlaylistSegment;
    const missing = next.seq - s.seq - 1;
    if (missing < 0 || (missing > 0 && (s.init !== next.init || missing > MAX_GAP_SEGMENTS))) break;
    for (let seq = next.seq - 1; seq > s.seq; seq--) run.push({ ...s, seq, gap: true });
    run.push(s);
    next = s;
  }
  return run.reverse();
}

/**
 * EXT-X-TARGETDURATION for segments of these durations (s): the longest,
 * rounded to the nearest integer (RFC 8216 4.3.3.1 asks that every EXTINF
 * rounded so be at most the target), and at least 1. Not rounded up: 1.021 s
 * segments (an encoder's timestamps) would make it 2, and players sit that
 * many target durations behind the live edge (hls.js: liveSyncDurationCount).
 */
export function targetDurationOf(durationsMs: Iterable<number>): number {
  let maxMs = 0;
  for (const d of durationsMs) maxMs = Math.max(maxMs, d);
  return Math.max(1, Math.round(maxMs / 1000));
}

/**
 * Renders a standard fMP4 HLS media playlist (version 7) that any player can
 * play; with `lowLatency`, version 9 with the LL-HLS tags, which players
 * without LL support ignore. The discontinuity sequence is the first listed
 * segment's init version: origins bump the version exactly once per
 * reconnect, so every relay agrees.
 */
export function renderMediaPlaylist(input: PlaylistInput): string {
  const segments = playlistRun(input.segments);
  const ll = input.lowLatency;
  const first = segments[0];
  const lastSeq = segments.at(-1)?.seq;
  // The segment in progress is listed only where it is the next number (never across a restart's jump).
  const next =
    ll?.inProgress && (lastSeq === undefined || ll.inProgress.seq === lastSeq + 1)
      ? ll.inProgress
      : undefined;
  const targetDurationS = targetDurationOf(segments.map((s) => s.durationMs));
  const lines = [
    "#EXTM3U",
    `#EXT-X-VERSION:${ll ? 9 : 7}`,
    `#EXT-X-TARGETDURATION:${targetDurationS}`,
    ...(ll ? lowLatencyHeader(ll.partTargetMs, targetDurationS) : []),
    `#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? next?.seq ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${first?.init ?? next?.init ?? 0}`,
    "#EXT-X-INDEPENDENT-SEGMENTS",
  ];
  const durations = segments.map((s) => s.durationMs);
  const skip = ll?.skip ? skippedSegments(durations, targetDurationS) : 0;
  if (ll?.skip) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skip}`);
  const partsFrom = ll ? listsPartsFrom(durations, targetDurationS) : segments.length;
  // A delta update still marks a discontinuity between the last skipped segment and the first listed one.
  let currentInit = skip > 0 ? (segments[skip - 1]?.init ?? -1) : -1;
  let mapped = false;
  const mapFor = (init: number) => {
    if (init === currentInit && mapped) return;
    if (currentInit !== -1 && init !== currentInit) lines.push("#EXT-X-DISCONTINUITY");
    lines.push(`#EXT-X-MAP:URI="${initFileName(init)}"`);
    currentInit = init;
    mapped = true;
  };
  segments.forEach((s, i) => {
    if (i < skip) return;
    mapFor(s.init);
    if (s.gap) {
      lines.push("#EXT-X-GAP", `#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, segmentFileName(s.seq));
      return;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.producedAt - s.durationMs).toISOString()}`);
    if (ll && i >= partsFrom) lines.push(...partLines(s.seq, ll.parts.get(s.seq) ?? []));
    lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`);
    lines.push(segmentFileName(s.seq));
  });
  if (next && !input.ended) {
    mapFor(next.init);
    lines.push(...partLines(next.seq, next.parts));
    lines.push(...preloadHintLines(next.seq, next.parts.length));
  }
  if (input.ended) lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

export interface ParsedSegment {
  uri: string;
  durationS: number;
  mediaSequence: number;
  discontinuity: boolean;
  /** `EXT-X-GAP`: the segment is missing; a player must not load it. */
  gap: boolean;
  mapUri: string | undefined;
}

export interface ParsedPlaylist {
  targetDurationS: number;
  mediaSequence: number;
  discontinuitySequence: number;
  segments: ParsedSegment[];
  ended: boolean;
}

function malformed(line: number, why: string): SrpError {
  return new SrpError("MALFORMED_PLAYLIST", `playlist line ${line}: ${why}`);
}

function numberAttr(value: string, line: number, tag: string): number {
  const n = Number(value);
  if (value === "" || !Number.isFinite(n) || n < 0)
    throw malformed(line, `${tag} needs a non-negative number`);
  return n;
}

/**
 * RFC 8216 decimal-integer tags (target duration, media and discontinuity
 * sequence): digits only, and here at most 2^53 - 1 so sequence arithmetic
 * stays exact. `1e308` or `1.5` is a malformed playlist, not a number.
 */
function integerAttr(value: string, line: number, tag: string): number {
  const n = Number(value);
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(n))
    throw malformed(line, `${tag} needs a decimal integer below 2^53`);
  return n;
}

/** Parses a media playlist strictly enough to catch truncation and garbage; throws MALFORMED_PLAYLIST. */
export function parseMediaPlaylist(text: string): ParsedPlaylist {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== "#EXTM3U") throw malformed(1, "does not start with #EXTM3U");
  let targetDurationS: number | undefined;
  let mediaSequence = 0;
  let discontinuitySequence = 0;
  let ended = false;
  let pendingDuration: number | undefined;
  let pendingDiscontinuity = false;
  let pendingGap = false;
  let mapUri: string | undefined;
  let skipped = 0; // a delta update (EXT-X-SKIP) numbers its first segment after the skipped ones
  const segments: ParsedSegment[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    if (line === "" || i === 0) return;
    if (!line.startsWith("#")) {
      if (pendingDuration === undefined) throw malformed(n, `URI ${line} without #EXTINF`);
      segments.push({
        uri: line,
        durationS: pendingDuration,
        mediaSequence: mediaSequence + skipped + segments.length,
        discontinuity: pendingDiscontinuity,
        gap: pendingGap,
        mapUri,
      });
      pendingDuration = undefined;
      pendingDiscontinuity = false;
      pendingGap = false;
      return;
    }
    const colon = line.indexOf(":");
    const tag = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1);
    switch (tag) {
      case "#EXT-X-TARGETDURATION":
        targetDurationS = integerAttr(value, n, tag);
        break;
      case "#EXT-X-MEDIA-SEQUENCE":
        mediaSequence = integerAttr(value, n, tag);
        break;
      case "#EXT-X-DISCONTINUITY-SEQUENCE":
        discontinuitySequence = integerAttr(value, n, tag);
        break;
      case "#EXTINF":
        pendingDuration = numberAttr(value.split(",")[0] ?? "", n, tag);
        break;
      case "#EXT-X-DISCONTINUITY":
        pendingDiscontinuity = true;
        break;
      case "#EXT-X-GAP":
        pendingGap = true;
        break;
      case "#EXT-X-MAP": {
        const m = /URI="([^"]+)"/.exec(value);
        if (!m?.[1]) throw malformed(n, "#EXT-X-MAP without URI");
        mapUri = m[1];
        break;
      }
      case "#EXT-X-SKIP": {
        const m = /SKIPPED-SEGMENTS=(\d{1,9})/.exec(value);
        if (!m?.[1]) throw malformed(n, "#EXT-X-SKIP without SKIPPED-SEGMENTS");
        skipped = Number(m[1]);
        break;
      }
      case "#EXT-X-ENDLIST":
        ended = true;
        break;
      default:
        break; // other tags are legal HLS we do not need
    }
  });
  if (targetDurationS === undefined) throw malformed(lines.length, "no #EXT-X-TARGETDURATION");
  if (pendingDuration !== undefined) throw malformed(lines.length, "#EXTINF without a URI (truncated?)");
  return { targetDurationS, mediaSequence, discontinuitySequence, segments, ended };
}
