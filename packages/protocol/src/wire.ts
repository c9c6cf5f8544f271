/** Names on the wire: headers, file names, paths. Every component imports these. */
export const HEADER_ATTESTATION = "x-srp-attestation";
export const HEADER_INIT_VERSION = "x-srp-init";
export const HEADER_STREAM_END = "x-srp-end";
export const HEADER_NODE_ID = "x-srp-node";
export const HEADER_NODE_SIG = "x-srp-node-sig";
/** A Low-Latency HLS part's attestation (PartAttestation), on part PUTs and GETs. */
export const HEADER_PART_ATTESTATION = "x-srp-part";

/** The source rendition's attestation name (transcoded rungs use theirs: rendition.ts). */
export const RENDITION_MAIN = "main";
/** Init segments are attested with this rendition and `seq` = init version. */
export const RENDITION_INIT = "init";

export const CONTENT_TYPE_PLAYLIST = "application/vnd.apple.mpegurl";
export const CONTENT_TYPE_SEGMENT = "video/iso.segment";
export const CONTENT_TYPE_INIT = "video/mp4";

export const PLAYLIST_FILE = "index.m3u8";
/** The multivariant playlist of a stream's ladder (every rung, with bandwidth and resolution). */
export const MASTER_PLAYLIST_FILE = "master.m3u8";
export const WINDOW_FILE = "window.json";

export function initFileName(version: number): string {
  return `init-${version}.mp4`;
}

export function segmentFileName(seq: number): string {
  return `seg-${seq}.m4s`;
}

/** A Low-Latency HLS part: part `part` (from 0) of segment `seq`. */
export function partFileName(seq: number, part: number): string {
  return `part-${seq}.${part}.m4s`;
}

export type MediaFile =
  | { kind: "playlist" }
  | { kind: "master" }
  | { kind: "window" }
  | { kind: "init"; version: number }
  | { kind: "segment"; seq: number }
  | { kind: "part"; seq: number; part: number };

const INIT_RE = /^init-(\d{1,9})\.mp4$/;
const SEGMENT_RE = /^seg-(\d{1,15})\.m4s$/;
const PART_RE = /^part-(\d{1,15})\.(\d{1,2})\.m4s$/;

/** Parses the file part of `/live/:stream/:file`; undefined for anything else. */
export function parseMediaFileName(file: string): MediaFile | undefined {
  if (file === PLAYLIST_FILE) return { kind: "playlist" };
  if (file === MASTER_PLAYLIST_FILE) return { kind: "master" };
  if (file === WINDOW_FILE) return { kind: "window" };
  const init = INIT_RE.exec(file);
  if (init?.[1] !== undefined) return { kind: "init", version: Number(init[1]) };
  const seg = SEGMENT_RE.exec(file);
  if (seg?.[1] !== undefined) return { kind: "segment", seq: Number(seg[1]) };
  const part = PART_RE.exec(file);
  if (part?.[1] !== undefined && part[2] !== undefined)
    return { kind: "part", seq: Number(part[1]), part: Number(part[2]) };
  return undefined;
}
