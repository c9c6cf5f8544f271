import { SrpError } from "@streamrp2p/protocol";

/**
 * Just enough ISO-BMFF to cut ffmpeg's fragmented MP4 into HLS segments:
 * top-level boxes from a byte stream, track timescales from `moov`, and per
 * fragment the video duration and whether it starts on a keyframe.
 */

export interface Box {
  type: string;
  /** The whole box, header included. */
  bytes: Buffer;
}

const MAX_BOX_BYTES = 64 * 1024 * 1024; // a fragment larger than this is a broken stream, not video

/**
 * Field reads inside a box. A field past the end of its box is a malformed
 * stream: BAD_REQUEST, never a RangeError from Buffer.
 */
function truncated(what: string): SrpError {
  return new SrpError("BAD_REQUEST", `fMP4: ${what} is truncated`);
}

function u32(buf: Buffer, offset: number, what: string): number {
  if (offset + 4 > buf.length) throw truncated(what);
  return buf.readUInt32BE(offset);
}

function u64(buf: Buffer, offset: number, what: string): number {
  if (offset + 8 > buf.length) throw truncated(what);
  return Number(buf.readBigUInt64BE(offset));
}

/** Splits a byte stream into top-level boxes, across arbitrary chunk boundaries. */
export class BoxReader {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  push(chunk: Buffer): Box[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const out: Box[] = [];
    let buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
    let offset = 0;
    while (buf.length - offset >= 8) {
      let size = buf.readUInt32BE(offset);
      const type = buf.toString("latin1", offset + 4, offset + 8);
      if (size === 1) {
        if (buf.length - offset < 16) break;
        size = Number(buf.readBigUInt64BE(offset + 8));
      }
      if (size < 8 || size > MAX_BOX_BYTES)
        throw new SrpError("BAD_REQUEST", `fMP4: bad box size ${size} for '${type}'`);
      if (buf.length - offset < size) break;
      out.push({ type, bytes: buf.subarray(offset, offset + size) });
      offset += size;
    }
    buf = buf.subarray(offset);
    this.#pending = buf.length > 0 ? [Buffer.from(buf)] : [];
    this.#pendingBytes = buf.length;
    return out;
  }

  get bufferedBytes(): number {
    return this.#pendingBytes;
  }
}

/** Children of a container box's payload. */
function* children(payload: Buffer): Generator<{ type: string; body: Buffer }> {
  let offset = 0;
  while (offset + 8 <= payload.length) {
    let size = payload.readUInt32BE(offset);
    const type = payload.toString("latin1", offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > payload.length) return;
      size = Number(payload.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = payload.length - offset;
    }
    if (size < header || offset + size > payload.length) return;
    yield { type, body: payload.subarray(offset + header, offset + size) };
    offset += size;
  }
}

function child(payload: Buffer, type: string): Buffer | undefined {
  for (const c of children(payload)) if (c.type === type) return c.body;
  return undefined;
}

export interface TrackInfo {
  trackId: number;
  kind: "video" | "audio" | "other";
  timescale: number;
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

/** Track ids, kinds and timescales from an init segment's `moov`. */
export function parseMoov(moov: Box): TrackInfo[] {
  const payload = moov.bytes.subarray(8);
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = child(payload, "mvex");
  if (mvex) {
    for (const c of children(mvex)) {
      if (c.type !== "trex" || c.body.length < 24) continue;
      trex.set(c.body.readUInt32BE(4), { duration: c.body.readUInt32BE(12), flags: c.body.readUInt32BE(20) });
    }
  }
  const tracks: TrackInfo[] = [];
  for (const c of children(payload)) {
    if (c.type !== "trak") continue;
    const tkhd = child(c.body, "tkhd");
    const mdia = child(c.body, "mdia");
    if (!tkhd || !mdia) continue;
    const trackId = u32(tkhd, tkhd[0] === 1 ? 20 : 12, "tkhd");
    const mdhd = child(mdia, "mdhd");
    const hdlr = child(mdia, "hdlr");
    if (!mdhd || !hdlr) continue;
    const timescale = u32(mdhd, mdhd[0] === 1 ? 20 : 12, "mdhd");
    // Durations are divided by it: a zero timescale would make every segment NaN ms long.
    if (timescale === 0) throw new SrpError("BAD_REQUEST", `fMP4: track ${trackId} has timescale 0`);
    if (hdlr.length < 12) throw truncated("hdlr");
    const handler = hdlr.toString("latin1", 8, 12);
    const defaults = trex.get(trackId) ?? { duration: 0, flags: 0 };
    tracks.push({
      trackId,
      kind: handler === "vide" ? "video" : handler === "soun" ? "audio" : "other",
      timescale,
      defaultSampleDuration: defaults.duration,
      defaultSampleFlags: defaults.flags,
    });
  }
  return tracks;
}

export interface FragmentInfo {
  /** Duration of the given track's samples in this fragment, in its timescale. */
  duration: number;
  /** The track's first sample is a sync sample (a keyframe). */
  startsWithKeyframe: boolean;
  baseDecodeTime: number;
}

const NON_SYNC = 0x0001_0000;

interface TrafDefaults {
  duration: number;
  flags: number;
}

/** The track's sample defaults as this fragment's `tfhd` overrides them. */
function tfhdDefaults(tfhd: Buffer, track: TrackInfo): TrafDefaults {
  const tfFlags = u32(tfhd, 0, "tfhd") & 0xffffff;
  let o = 8;
  if (tfFlags & 0x01) o += 8; // base data offset
  if (tfFlags & 0x02) o += 4; // sample description index
  const d = { duration: track.defaultSampleDuration, flags: track.defaultSampleFlags };
  if (tfFlags & 0x08) {
    d.duration = u32(tfhd, o, "tfhd");
    o += 4;
  }
  if (tfFlags & 0x10) o += 4; // default sample size
  if (tfFlags & 0x20) d.flags = u32(tfhd, o, "tfhd");
  return d;
}

/**
 * One `trun`: its samples' total duration and the first sample's flags.
 * The sample count is a 32-bit field an input controls: with per-sample
 * fields it must fit in the box (checked before looping); without, every
 * sample has the defaults and the sum is one multiplication, not 2^32 steps.
 */
function trunSummary(b: Buffer, d: TrafDefaults): { duration: number; firstFlags: number | undefined } {
  const flags = u32(b, 0, "trun") & 0xffffff;
  const count = u32(b, 4, "trun");
  let p = 8;
  if (flags & 0x01) p += 4; // data offset
  let firstSampleFlags: number | undefined;
  if (flags & 0x04) {
    firstSampleFlags = u32(b, p, "trun");
    p += 4;
  }
  const fields = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
  if (count === 0) return { duration: 0, firstFlags: undefined };
  const first = firstSampleFlags ?? d.flags;
  if (fields === 0) return { duration: count * d.duration, firstFlags: first };
  if (p + count * fields * 4 > b.length) throw truncated(`trun of ${count} samples`);
  let duration = 0;
  let firstFlags: number | undefined;
  for (let i = 0; i < count; i++) {
    let sampleDuration = d.duration;
    let sampleFlags = i === 0 ? first : d.flags;
    if (flags & 0x100) {
      sampleDuration = b.readUInt32BE(p);
      p += 4;
    }
    if (flags & 0x200) p += 4; // size
    if (flags & 0x400) {
      const f = b.readUInt32BE(p);
      if (!(i === 0 && firstSampleFlags !== undefined)) sampleFlags = f;
      p += 4;
    }
    if (flags & 0x800) p += 4; // composition time offset
    duration += sampleDuration;
    firstFlags ??= sampleFlags;
  }
  return { duration, firstFlags };
}

/** Duration and keyframe flag of `track` within a `moof`; undefined when the track is absent. */
export function parseMoof(moof: Box, track: TrackInfo): FragmentInfo | undefined {
  for (const traf of children(moof.bytes.subarray(8))) {
    if (traf.type !== "traf") continue;
    const tfhd = child(traf.body, "tfhd");
    if (!tfhd || u32(tfhd, 4, "tfhd") !== track.trackId) continue;
    const defaults = tfhdDefaults(tfhd, track);
    const tfdt = child(traf.body, "tfdt");
    const baseDecodeTime = !tfdt ? 0 : tfdt[0] === 1 ? u64(tfdt, 4, "tfdt") : u32(tfdt, 4, "tfdt");
    let duration = 0;
    let firstFlags: number | undefined;
    for (const trun of children(traf.body)) {
      if (trun.type !== "trun") continue;
      const summary = trunSummary(trun.body, defaults);
      duration += summary.duration;
      firstFlags ??= summary.firstFlags;
    }
    return {
      duration,
      startsWithKeyframe: firstFlags !== undefined && (firstFlags & NON_SYNC) === 0,
      baseDecodeTime,
    };
  }
  return undefined;
}
