import { SrpError } from "./errors.ts";
import { MAX_PARTS_PER_SEGMENT } from "./part-attestation.ts";
import { partFileName } from "./wire.ts";

/**
 * Low-Latency HLS (draft-pantos-hls-rfc8216bis, section 6.2.5): the numbers
 * every hop must agree on, the blocking-reload request rules, and the
 * playlist tags. One copy, used by every relay and by the player.
 */

/** PART-HOLD-BACK in part targets: the spec asks for at least 3 (players start that far from the edge). */
export const PART_HOLD_BACK_PARTS = 3;
/** CAN-SKIP-UNTIL in target durations: the spec's minimum, 6. */
export const SKIP_UNTIL_TARGET_DURATIONS = 6;
/** A blocking reload or a preload-hinted part waits at most this many target durations, then 503 (the spec's 3). */
export const BLOCK_TARGET_DURATIONS = 3;
/**
 * The longest any blocked request waits (ms), whatever target duration a
 * playlist claims: a huge TARGETDURATION (an origin's odd durations at a
 * relay, a relay's lie at a player) must not park a request for minutes.
 */
export const MAX_BLOCK_MS = 30_000; // ms

/** How long a blocked request (reload or hinted part) may wait for a playlist of `targetDurationS` (ms). */
export function blockingWaitMs(targetDurationS: number): number {
  return Math.min(MAX_BLOCK_MS, BLOCK_TARGET_DURATIONS * Math.max(1, targetDurationS) * 1000);
}

/** Parts a request may be ahead of the newest part before it is refused with 400 (the spec's Advance Part Limit). */
export const ADVANCE_PART_LIMIT = 3;
/** Segments a request may be ahead of the newest complete one before it is refused with 400 (the spec's 2). */
export const ADVANCE_SEGMENT_LIMIT = 2;
/** Parts are listed for segments this many target durations from the playlist's end (the spec's 3). */
export const PART_LIST_TARGET_DURATIONS = 3;

/** One part as a playlist lists it. */
export interface PlaylistPart {
  durationMs: number;
  independent: boolean;
}

/** The segment the origin is producing now: its parts so far. */
export interface InProgressSegment {
  seq: number;
  init: number;
  parts: readonly PlaylistPart[];
}

export interface LowLatencyInput {
  /** The origin's announced part target (ms, from its signed part attestations). */
  partTargetMs: number;
  /** Parts of complete segments, by seq (only recent ones are listed). */
  parts: ReadonlyMap<number, readonly PlaylistPart[]>;
  inProgress: InProgressSegment | undefined;
  /** A delta update (`_HLS_skip=YES`): older segments replaced by EXT-X-SKIP. */
  skip: boolean;
}

/** `x.xxx` seconds from ms, as HLS attributes write durations. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The EXT-X-SERVER-CONTROL and EXT-X-PART-INF lines for `targetDurationS`. */
export function lowLatencyHeader(partTargetMs: number, targetDurationS: number): string[] {
  return [
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(PART_HOLD_BACK_PARTS * partTargetMs)},CAN-SKIP-UNTIL=${(SKIP_UNTIL_TARGET_DURATIONS * targetDurationS).toFixed(1)}`,
    `#EXT-X-PART-INF:PART-TARGET=${seconds(partTargetMs)}`,
  ];
}

/** EXT-X-PART lines for segment `seq`'s parts. */
export function partLines(seq: number, parts: readonly PlaylistPart[]): string[] {
  return parts.map(
    (p, i) =>
      `#EXT-X-PART:DURATION=${seconds(p.durationMs)},URI="${partFileName(seq, i)}"${p.independent ? ",INDEPENDENT=YES" : ""}`,
  );
}

/** The hint for the next part of segment `seq`; none once it has all the parts a segment may have. */
export function preloadHintLines(seq: number, part: number): string[] {
  return part < MAX_PARTS_PER_SEGMENT
    ? [`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partFileName(seq, part)}"`]
    : [];
}

/**
 * How many leading segments a delta update skips: those that end more than
 * CAN-SKIP-UNTIL before the end of the playlist (the Skip Boundary).
 */
export function skippedSegments(durationsMs: readonly number[], targetDurationS: number): number {
  const boundaryMs = SKIP_UNTIL_TARGET_DURATIONS * targetDurationS * 1000;
  let after = durationsMs.reduce((a, b) => a + b, 0);
  let skipped = 0;
  for (const d of durationsMs) {
    after -= d;
    if (after < boundaryMs) break;
    skipped += 1;
  }
  return skipped;
}

/** Whether segment i's parts are listed: it starts within PART_LIST_TARGET_DURATIONS of the playlist's end. */
export function listsPartsFrom(durationsMs: readonly number[], targetDurationS: number): number {
  const limitMs = PART_LIST_TARGET_DURATIONS * targetDurationS * 1000;
  let fromEnd = 0;
  let i = durationsMs.length;
  while (i > 0 && fromEnd + (durationsMs[i - 1] ?? 0) <= limitMs) {
    fromEnd += durationsMs[i - 1] ?? 0;
    i -= 1;
  }
  return i;
}

/**
 * The query parameter (`index.m3u8?ll=1`) by which a client asks for the
 * LL-HLS playlist. Without it a relay serves plain HLS: the LL tags are
 * meant to be ignorable, but hls.js outside its low-latency mode still
 * counts a preload-hinted segment as listed, and plain clients gain nothing
 * from parts. A request with an `_HLS_` directive asks for LL too.
 */
export const LL_PLAYLIST_PARAM = "ll";

/** What a playlist request asks for: the LL-HLS playlist, a blocking reload and/or a delta update. */
export interface PlaylistRequest {
  /** `ll=1`, or any delivery directive: the client plays LL-HLS. */
  lowLatency: boolean;
  /** `_HLS_msn` (and `_HLS_part`): answer once the playlist holds that segment (part). */
  block: { msn: number; part: number | undefined } | undefined;
  /** `_HLS_skip=YES` or `v2`. */
  skip: boolean;
}

const DIRECTIVE_INT = /^\d{1,15}$/;

/**
 * Parses the LL-HLS delivery directives of a playlist URL. Throws BAD_REQUEST
 * (400) for malformed values and for `_HLS_part` without `_HLS_msn`, as the
 * spec requires.
 */
export function parsePlaylistRequest(params: URLSearchParams): PlaylistRequest {
  const msn = params.get("_HLS_msn");
  const part = params.get("_HLS_part");
  const skip = params.get("_HLS_skip");
  if (msn !== null && !DIRECTIVE_INT.test(msn))
    throw new SrpError("BAD_REQUEST", "_HLS_msn must be an integer");
  if (part !== null && !DIRECTIVE_INT.test(part))
    throw new SrpError("BAD_REQUEST", "_HLS_part must be an integer");
  if (part !== null && msn === null) throw new SrpError("BAD_REQUEST", "_HLS_part needs _HLS_msn");
  if (skip !== null && skip !== "YES" && skip !== "v2")
    throw new SrpError("BAD_REQUEST", "_HLS_skip must be YES or v2");
  const ll = params.get(LL_PLAYLIST_PARAM);
  if (ll !== null && ll !== "1") throw new SrpError("BAD_REQUEST", `${LL_PLAYLIST_PARAM} must be 1`);
  return {
    lowLatency: ll !== null || msn !== null || skip !== null,
    block: msn === null ? undefined : { msn: Number(msn), part: part === null ? undefined : Number(part) },
    skip: skip !== null,
  };
}

/** Where a stream is, as the blocking rules see it. */
export interface LiveEdge {
  /** The newest complete segment's seq, -1 before the first. */
  lastMsn: number;
  /** Parts of segment `lastMsn` (0 when it was published without parts). */
  partsOfLast: number;
  /** Parts of segment `lastMsn + 1` so far. */
  partsOfNext: number;
  ended: boolean;
}

/**
 * Rule: is the playlist that `block` waits for there yet? "ready": answer
 * now; "wait": block; "too-far": a request too far ahead of `edge` (more
 * than ADVANCE_SEGMENT_LIMIT segments, or ADVANCE_PART_LIMIT parts), which
 * waiting would only tie a connection up for. Never throws: blocked
 * requests re-check it on every change of the window.
 */
export function blockingReloadState(
  block: PlaylistRequest["block"],
  edge: LiveEdge,
): "ready" | "wait" | "too-far" {
  if (!block || edge.ended) return "ready";
  const { msn, part } = block;
  if (msn > edge.lastMsn + ADVANCE_SEGMENT_LIMIT) return "too-far";
  if (msn === edge.lastMsn + 1 && part !== undefined && part >= edge.partsOfNext + ADVANCE_PART_LIMIT)
    return "too-far";
  if (msn < edge.lastMsn) return "ready";
  if (msn === edge.lastMsn) {
    // A part index past the segment's last part means part 0 of the next one (the spec's rule).
    return part === undefined || part < edge.partsOfLast || edge.partsOfNext > 0 ? "ready" : "wait";
  }
  return msn === edge.lastMsn + 1 && part !== undefined && part < edge.partsOfNext ? "ready" : "wait";
}

/**
 * `blockingReloadState` for a request as it arrives: true: answer now;
 * false: wait. Throws BAD_REQUEST (400) for a request too far ahead.
 */
export function blockingReloadReady(block: PlaylistRequest["block"], edge: LiveEdge): boolean {
  const state = blockingReloadState(block, edge);
  if (state === "too-far") {
    throw new SrpError(
      "BAD_REQUEST",
      `_HLS_msn=${block?.msn}${block?.part === undefined ? "" : ` _HLS_part=${block.part}`} is too far ahead of segment ${edge.lastMsn} (part ${edge.partsOfNext - 1} of the next)`,
    );
  }
  return state === "ready";
}

/** Parsed LL-HLS tags of a media playlist (conformance tests, the player's checks). */
export interface ParsedLowLatency {
  serverControl: Record<string, string> | undefined;
  partTargetS: number | undefined;
  parts: { uri: string; durationS: number; independent: boolean }[];
  preloadHint: string | undefined;
  skipped: number;
}

function attributes(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    const key = m[1];
    const raw = m[2];
    if (key !== undefined && raw !== undefined) out[key] = raw.replace(/^"|"$/g, "");
  }
  return out;
}

/** Reads the LL-HLS tags of a playlist (parts in order, the preload hint, server control, skip). */
export function parseLowLatency(text: string): ParsedLowLatency {
  const out: ParsedLowLatency = {
    serverControl: undefined,
    partTargetS: undefined,
    parts: [],
    preloadHint: undefined,
    skipped: 0,
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const colon = line.indexOf(":");
    if (!line.startsWith("#") || colon === -1) continue;
    const tag = line.slice(0, colon);
    const a = attributes(line.slice(colon + 1));
    if (tag === "#EXT-X-SERVER-CONTROL") out.serverControl = a;
    else if (tag === "#EXT-X-PART-INF") out.partTargetS = Number(a["PART-TARGET"]);
    else if (tag === "#EXT-X-PART")
      out.parts.push({
        uri: a.URI ?? "",
        durationS: Number(a.DURATION),
        independent: a.INDEPENDENT === "YES",
      });
    else if (tag === "#EXT-X-PRELOAD-HINT") out.preloadHint = a.URI;
    else if (tag === "#EXT-X-SKIP") out.skipped = Number(a["SKIPPED-SEGMENTS"]);
  }
  return out;
}
