import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rawInputArgs, stampedFrame, x264Args } from "../../bench/latency/stamped-source.ts";
import { decodeTimeCode, TIME_CODE_LAYOUT, timeCodeBits } from "../../bench/latency/time-code.ts";
import { requireFfmpeg, tempDir } from "../support/tools.ts";

const W = 640;
const H = 360;
const FPS = 30;

function lumaOf(frame: Uint8Array, width: number) {
  return (x: number, y: number) => frame[y * width + x] ?? 0;
}

describe("glass-to-glass bench: the time code drawn into frames", () => {
  it("decodes the exact milliseconds from the raw frame, and refuses a frame whose CRC or sync is wrong", () => {
    const ms = 1_795_000_123_456;
    const frame = stampedFrame(W, H, ms, 0);
    expect(decodeTimeCode(lumaOf(frame, W), TIME_CODE_LAYOUT)).toBe(ms);
    // One time bit flipped (the first time cell after the sync): the CRC no longer matches.
    const c = TIME_CODE_LAYOUT.cell;
    const x = TIME_CODE_LAYOUT.sync.length * c + c / 2;
    const flipped = Buffer.from(frame);
    const bit = timeCodeBits(ms)[TIME_CODE_LAYOUT.sync.length] as number;
    for (let y = 0; y < c; y += 1) flipped.fill(bit ? 16 : 235, y * W + x - c / 2, y * W + x + c / 2);
    expect(decodeTimeCode(lumaOf(flipped, W), TIME_CODE_LAYOUT)).toBeNull();
    // A frame without a code (plain grey) has no sync.
    expect(decodeTimeCode(() => 128, TIME_CODE_LAYOUT)).toBeNull();
  });

  it("survives x264 with the test source's settings: every frame decoded by ffmpeg reads back its exact time", () => {
    requireFfmpeg();
    const dir = tempDir("time-code");
    const out = join(dir, "stamped.flv");
    // Times that exercise high and low bits, one per frame, 2 s of video (two GOPs, P-frames included).
    const base = 1_795_000_000_000;
    const times = Array.from({ length: 2 * FPS }, (_, i) => base + i * 33 + (i % 7) * 2 ** 20 + (i % 3));
    const input = Buffer.concat(times.map((t, i) => stampedFrame(W, H, t, i)));
    const enc = spawnSync(
      "ffmpeg",
      [
        ..."-hide_banner -loglevel error -y".split(" "),
        ...rawInputArgs(W, H, FPS),
        ...x264Args(FPS, 1),
        "-f",
        "flv",
        out,
      ],
      { input, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(enc.status, enc.stderr?.toString()).toBe(0);
    const dec = spawnSync(
      "ffmpeg",
      [
        ..."-hide_banner -loglevel error -i".split(" "),
        out,
        ..."-f rawvideo -pix_fmt yuv420p pipe:1".split(" "),
      ],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    expect(dec.status, dec.stderr?.toString()).toBe(0);
    const frameBytes = (W * H * 3) / 2;
    expect(dec.stdout.length).toBe(times.length * frameBytes);
    const decoded = times.map((_, i) =>
      decodeTimeCode(
        lumaOf(dec.stdout.subarray(i * frameBytes, i * frameBytes + W * H), W),
        TIME_CODE_LAYOUT,
      ),
    );
    expect(decoded).toEqual(times);
  });
});
