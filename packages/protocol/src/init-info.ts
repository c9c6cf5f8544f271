/**
 * What a multivariant playlist says about a rung, read from its init segment
 * (signed bytes): the picture size and the RFC 6381 codec strings. Pure, over
 * Uint8Array, bounds-checked: an init that is not what it claims yields
 * less information, never an exception.
 */
export interface InitInfo {
  width: number | undefined;
  height: number | undefined;
  codecs: string[];
}

interface Span {
  type: string;
  start: number; // body start
  end: number;
}

function boxes(b: Uint8Array, start: number, end: number): Span[] {
  const out: Span[] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = start;
  while (p + 8 <= end && out.length < 256) {
    const size = view.getUint32(p);
    const type = String.fromCharCode(b[p + 4] ?? 0, b[p + 5] ?? 0, b[p + 6] ?? 0, b[p + 7] ?? 0);
    if (size < 8 || p + size > end) break; // 64-bit or truncated boxes: not in an init we read
    out.push({ type, start: p + 8, end: p + size });
    p += size;
  }
  return out;
}

function find(b: Uint8Array, within: Span, path: string[]): Span | undefined {
  let cur: Span | undefined = within;
  for (const type of path) {
    if (!cur) return undefined;
    cur = boxes(b, cur.start, cur.end).find((s) => s.type === type);
  }
  return cur;
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** `avc1.PPCCLL` from an avcC box. */
function avcCodec(b: Uint8Array, entry: Span): string | undefined {
  // VisualSampleEntry: 8 bytes SampleEntry + 70 bytes of visual fields, then child boxes.
  const avcC = boxes(b, entry.start + 78, entry.end).find((s) => s.type === "avcC");
  if (!avcC || avcC.end - avcC.start < 4) return undefined;
  return `avc1.${hex2(b[avcC.start + 1] ?? 0)}${hex2(b[avcC.start + 2] ?? 0)}${hex2(b[avcC.start + 3] ?? 0)}`;
}

/** `mp4a.40.N` from an esds box's DecoderSpecificInfo (the AAC audio object type). */
function aacCodec(b: Uint8Array, entry: Span): string {
  // AudioSampleEntry: 8 bytes SampleEntry + 20 bytes of audio fields, then child boxes.
  const esds = boxes(b, entry.start + 28, entry.end).find((s) => s.type === "esds");
  if (esds) {
    for (let p = esds.start + 4; p < esds.end - 2; p++) {
      if (b[p] !== 0x05) continue; // DecSpecificInfo tag; its length is 1-4 bytes of 7 bits
      let q = p + 1;
      while (q < esds.end && ((b[q] ?? 0) & 0x80) !== 0) q++;
      const first = b[q + 1];
      if (first !== undefined && first >> 3 > 0) return `mp4a.40.${first >> 3}`;
    }
  }
  return "mp4a.40.2";
}

export function describeInit(bytes: Uint8Array): InitInfo {
  const info: InitInfo = { width: undefined, height: undefined, codecs: [] };
  const moov = boxes(bytes, 0, bytes.byteLength).find((s) => s.type === "moov");
  if (!moov) return info;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const trak of boxes(bytes, moov.start, moov.end).filter((s) => s.type === "trak")) {
    const stsd = find(bytes, trak, ["mdia", "minf", "stbl", "stsd"]);
    if (!stsd) continue;
    const entry = boxes(bytes, stsd.start + 8, stsd.end)[0];
    if (!entry) continue;
    if (entry.type === "avc1" || entry.type === "avc3") {
      const codec = avcCodec(bytes, entry);
      if (codec) info.codecs.push(codec);
      const tkhd = find(bytes, trak, ["tkhd"]);
      if (tkhd && tkhd.end - tkhd.start >= 84) {
        // width and height are the last 8 bytes, 16.16 fixed point
        info.width = view.getUint32(tkhd.end - 8) >>> 16;
        info.height = view.getUint32(tkhd.end - 4) >>> 16;
      }
    } else if (entry.type === "mp4a") {
      info.codecs.push(aacCodec(bytes, entry));
    }
  }
  return info;
}
