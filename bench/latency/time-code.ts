/**
 * A wall-clock time drawn into a video frame's pixels, and read back from
 * the decoded picture: the glass-to-glass latency bench's ruler.
 *
 * The code is a grid of big black/white cells across the top of the frame:
 * a fixed sync pattern, 48 bits of milliseconds since the epoch (MSB first),
 * and a CRC-8 over those 6 bytes. Cells are 32 px squares (two macroblocks
 * wide) in pure black or white, so x264 at 1 Mbit/s and chroma subsampling
 * leave each cell's centre far on its side of the threshold; a frame whose
 * sync or CRC does not match is reported as unreadable, never guessed.
 */

export interface TimeCodeLayout {
  /** Cell side, px. */
  cell: number;
  cols: number;
  rows: number;
  /** Bits of the fixed sync pattern at the start of the grid. */
  sync: readonly number[];
}

/** 60 cells (20 × 3 of 32 px) on a 640-px-wide frame: 4 sync + 48 time + 8 CRC. */
export const TIME_CODE_LAYOUT: TimeCodeLayout = { cell: 32, cols: 20, rows: 3, sync: [1, 0, 1, 1] };

export const TIME_BITS = 48;
const LUMA_WHITE = 235; // video-range white
const LUMA_BLACK = 16; // video-range black

/** CRC-8 (polynomial 0x07) over the 6 bytes of a 48-bit value. */
export function crc8Of48(ms: number): number {
  let crc = 0;
  for (let i = 5; i >= 0; i -= 1) {
    crc ^= Math.floor(ms / 2 ** (8 * i)) % 256;
    for (let b = 0; b < 8; b += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** The cell bits for `ms`: sync, 48 time bits MSB first, 8 CRC bits MSB first. */
export function timeCodeBits(ms: number, layout: TimeCodeLayout = TIME_CODE_LAYOUT): number[] {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 2 ** TIME_BITS)
    throw new RangeError(`time ${ms} out of range`);
  const bits = [...layout.sync];
  for (let i = TIME_BITS - 1; i >= 0; i -= 1) bits.push(Math.floor(ms / 2 ** i) % 2);
  const crc = crc8Of48(ms);
  for (let i = 7; i >= 0; i -= 1) bits.push((crc >> i) & 1);
  if (bits.length !== layout.cols * layout.rows) throw new RangeError("layout does not fit the time code");
  return bits;
}

/** Writes the time code for `ms` into the luma plane (width × height bytes, row-major) of a frame. */
export function drawTimeCode(
  luma: Uint8Array,
  width: number,
  ms: number,
  layout: TimeCodeLayout = TIME_CODE_LAYOUT,
): void {
  const bits = timeCodeBits(ms, layout);
  bits.forEach((bit, i) => {
    const x0 = (i % layout.cols) * layout.cell;
    const y0 = Math.floor(i / layout.cols) * layout.cell;
    const v = bit ? LUMA_WHITE : LUMA_BLACK;
    for (let y = y0; y < y0 + layout.cell; y += 1) luma.fill(v, y * width + x0, y * width + x0 + layout.cell);
  });
}

/**
 * Reads the time code from a decoded picture: `luma(x, y)` is the brightness
 * (0–255) of one pixel. Returns the milliseconds, or null when the sync
 * pattern or the CRC does not match (a torn or unreadable frame).
 *
 * Self-contained (no reference outside its body) so the bench can hand its
 * source to the browser page, which reads canvas pixels with the same code.
 */
export function decodeTimeCode(
  luma: (x: number, y: number) => number,
  layout: TimeCodeLayout,
): number | null {
  const bits: number[] = [];
  const inset = Math.floor(layout.cell / 4); // the centre half of each cell: edges blur under compression
  for (let i = 0; i < layout.cols * layout.rows; i += 1) {
    const x0 = (i % layout.cols) * layout.cell + inset;
    const y0 = Math.floor(i / layout.cols) * layout.cell + inset;
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y0 + layout.cell - 2 * inset; y += 2) {
      for (let x = x0; x < x0 + layout.cell - 2 * inset; x += 2) {
        sum += luma(x, y);
        n += 1;
      }
    }
    bits.push(sum / n > 128 ? 1 : 0);
  }
  for (let i = 0; i < layout.sync.length; i += 1) if (bits[i] !== layout.sync[i]) return null;
  let ms = 0;
  for (let i = 0; i < 48; i += 1) ms = ms * 2 + (bits[layout.sync.length + i] ?? 0);
  let crc = 0;
  for (let i = 0; i < 8; i += 1) crc = crc * 2 + (bits[layout.sync.length + 48 + i] ?? 0);
  let check = 0;
  for (let i = 5; i >= 0; i -= 1) {
    check ^= Math.floor(ms / 2 ** (8 * i)) % 256;
    for (let b = 0; b < 8; b += 1) check = check & 0x80 ? ((check << 1) ^ 0x07) & 0xff : (check << 1) & 0xff;
  }
  return check === crc ? ms : null;
}
