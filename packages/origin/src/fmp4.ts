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
    const trackId = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
    const mdhd = child(mdia, "mdhd");
    const hdlr = child(mdia, "hdlr");
    if (!mdhd || !hdlr) continue;
    const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
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

/** Duration and keyframe flag of `track` within a `moof`; undefined when the track is absent. */
export function parseMoof(moof: Box, track: TrackInfo): FragmentInfo | undefined {
  for (const traf of children(moof.bytes.subarray(8))) {
    if (traf.type !== "traf") continue;
    const tfhd = child(traf.body, "tfhd");
    if (!tfhd || tfhd.readUInt32BE(4) !== track.trackId) continue;
    const tfFlags = tfhd.readUInt32BE(0) & 0xffffff;
    let o = 8;
    if (tfFlags & 0x01) o += 8; // base data offset
    if (tfFlags & 0x02) o += 4; // sample description index
    let defaultDuration = track.defaultSampleDuration;
    let defaultFlags = track.defaultSampleFlags;
    if (tfFlags & 0x08) {
      defaultDuration = tfhd.readUInt32BE(o);
      o += 4;
    }
    if (tfFlags & 0x10) o += 4; // default sample size
    if (tfFlags & 0x20) defaultFlags = tfhd.readUInt32BE(o);

    const tfdt = child(traf.body, "tfdt");
    const baseDecodeTime = !tfdt ? 0 : tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);

    let duration = 0;
    let firstFlags: number | undefined;
    for (const trun of children(traf.body)) {
      if (trun.type !== "trun") continue;
      const b = trun.body;
      const flags = b.readUInt32BE(0) & 0xffffff;
      const count = b.readUInt32BE(4);
      let p = 8;
      if (flags & 0x01) p += 4; // data offset
      let firstSampleFlags: number | undefined;
      if (flags & 0x04) {
        firstSampleFlags = b.readUInt32BE(p);
        p += 4;
      }
      for (let i = 0; i < count; i++) {
        let sampleDuration = defaultDuration;
        let sampleFlags = i === 0 && firstSampleFlags !== undefined ? firstSampleFlags : defaultFlags;
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
        if (firstFlags === undefined) firstFlags = sampleFlags;
      }
    }
    return {
      duration,
      startsWithKeyframe: firstFlags !== undefined && (firstFlags & NON_SYNC) === 0,
      baseDecodeTime,
    };
  }
  return undefined;
}
