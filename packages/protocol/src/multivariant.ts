import { SrpError } from "./errors.ts";
import { MAX_RUNGS, RungNameSchema, SOURCE_RUNG } from "./rendition.ts";
import { PLAYLIST_FILE } from "./wire.ts";

/** One rung as a multivariant playlist lists it. */
export interface Variant {
  /** The rung name: its media playlist is `index.m3u8` (source) or `<rung>/index.m3u8`. */
  rung: string;
  /** Peak bit/s (HLS BANDWIDTH): the highest segment bitrate in the window. */
  bandwidth: number;
  /** Mean bit/s over the window (HLS AVERAGE-BANDWIDTH). */
  averageBandwidth: number;
  width?: number;
  height?: number;
  /** RFC 6381 codec strings, e.g. ["avc1.64001f", "mp4a.40.2"]. */
  codecs: string[];
}

/** Where a rung's media playlist is, relative to the multivariant playlist. */
export function variantUri(rung: string): string {
  return rung === SOURCE_RUNG ? PLAYLIST_FILE : `${rung}/${PLAYLIST_FILE}`;
}

/** Renders an HLS multivariant playlist (RFC 8216 4.4.6.2): one EXT-X-STREAM-INF per rung, highest first. */
export function renderMultivariantPlaylist(variants: readonly Variant[]): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
  for (const v of [...variants].sort((a, b) => b.bandwidth - a.bandwidth)) {
    const attrs = [`BANDWIDTH=${Math.max(1, Math.round(v.bandwidth))}`];
    attrs.push(`AVERAGE-BANDWIDTH=${Math.max(1, Math.round(v.averageBandwidth))}`);
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.codecs.length > 0) attrs.push(`CODECS="${v.codecs.join(",")}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(",")}`, variantUri(v.rung));
  }
  return `${lines.join("\n")}\n`;
}

export interface ParsedVariant {
  uri: string;
  bandwidth: number;
  resolution: { width: number; height: number } | undefined;
}

/**
 * Parses a multivariant playlist strictly: EXTM3U first, every
 * EXT-X-STREAM-INF with a BANDWIDTH and followed by its URI, at most
 * MAX_RUNGS variants. Throws MALFORMED_PLAYLIST.
 */
export function parseMultivariantPlaylist(text: string): ParsedVariant[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const bad = (n: number, why: string) => new SrpError("MALFORMED_PLAYLIST", `playlist line ${n}: ${why}`);
  if (lines[0] !== "#EXTM3U") throw bad(1, "does not start with #EXTM3U");
  const variants: ParsedVariant[] = [];
  let pending: Omit<ParsedVariant, "uri"> | undefined;
  lines.forEach((line, i) => {
    if (i === 0 || line === "") return;
    if (line.startsWith("#EXT-X-STREAM-INF:")) {
      const bw = /(?:^|,)BANDWIDTH=(\d{1,12})(?:,|$)/.exec(line.slice(18));
      if (!bw?.[1]) throw bad(i + 1, "EXT-X-STREAM-INF without BANDWIDTH");
      const res = /(?:^|,)RESOLUTION=(\d{1,5})x(\d{1,5})(?:,|$)/.exec(line.slice(18));
      pending = {
        bandwidth: Number(bw[1]),
        resolution: res ? { width: Number(res[1]), height: Number(res[2]) } : undefined,
      };
      return;
    }
    if (line.startsWith("#")) return;
    if (!pending) throw bad(i + 1, `URI ${line} without EXT-X-STREAM-INF`);
    variants.push({ uri: line, ...pending });
    pending = undefined;
    if (variants.length > MAX_RUNGS) throw bad(i + 1, `more than ${MAX_RUNGS} variants`);
  });
  if (pending) throw bad(lines.length, "EXT-X-STREAM-INF without a URI (truncated?)");
  if (variants.length === 0) throw bad(lines.length, "no variants");
  return variants;
}

/**
 * The tags renderMultivariantPlaylist writes. Any other tag may carry a URI
 * hls.js follows (EXT-X-MEDIA audio and subtitle tracks, I-frame playlists,
 * session keys and data, content steering, EXT-X-DEFINE variables): none
 * belongs in a relay's multivariant playlist.
 */
const MULTIVARIANT_TAGS = new Set([
  "#EXTM3U",
  "#EXT-X-VERSION",
  "#EXT-X-INDEPENDENT-SEGMENTS",
  "#EXT-X-STREAM-INF",
]);

/**
 * Rule: a multivariant playlist may send a player only to the stream's own
 * rungs, next to it: `index.m3u8` (the source) or `<rung>/index.m3u8`. Any
 * other URI (another stream, another host, a path up), or any tag but the
 * ones a relay renders, is a node's lie.
 * Parses as parseMultivariantPlaylist; throws MALFORMED_PLAYLIST.
 */
export function checkMultivariantPlaylist(text: string): ParsedVariant[] {
  const variants = parseMultivariantPlaylist(text);
  for (const line of text.split(/\r?\n/)) {
    const tag = line.trim().split(":", 1)[0] ?? "";
    if (tag.startsWith("#EXT") && !MULTIVARIANT_TAGS.has(tag))
      throw new SrpError("MALFORMED_PLAYLIST", `tag ${tag.slice(0, 40)} has no place in a stream's ladder`);
  }
  for (const v of variants) {
    const [rung, file, ...rest] = v.uri.split("/");
    const ok =
      v.uri === PLAYLIST_FILE ||
      (rest.length === 0 && file === PLAYLIST_FILE && RungNameSchema.safeParse(rung).success);
    if (!ok)
      throw new SrpError(
        "MALFORMED_PLAYLIST",
        `variant ${v.uri.slice(0, 80)} is not one of the stream's rungs`,
      );
  }
  return variants;
}

/** True for a playlist that is multivariant (lists variants, not segments). */
export function isMultivariantPlaylist(text: string): boolean {
  return text.includes("#EXT-X-STREAM-INF:");
}
