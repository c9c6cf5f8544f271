import { type ChildProcess, spawn } from "node:child_process";
import { drawTimeCode, TIME_CODE_LAYOUT } from "./time-code.ts";

export interface StampedSourceOptions {
  /** Full RTMP publish URL, as `up --test-source` publishes: rtmp://127.0.0.1:PORT/live/KEY */
  url: string;
  width?: number; // px, default 640
  height?: number; // px, default 360
  fps?: number; // default 30
  /** Keyframe interval, s (one segment). */
  keyframeSeconds?: number; // default 1
  now?: () => number;
  ffmpegPath?: string;
}

export interface StampedSource {
  proc: ChildProcess;
  /** Frames written to ffmpeg so far. */
  frames(): number;
  /** Frames written later than their slot (the source itself fell behind). */
  late(): number;
  stop(): void;
}

/**
 * The encoder settings of the product's test source (packages/cli/src/test-source.ts):
 * x264 ultrafast + zerolatency, a keyframe every segment, 1 Mbit/s CBR, FLV over RTMP.
 */
export function x264Args(fps: number, keyframeSeconds: number): string[] {
  const gop = String(Math.round(fps * keyframeSeconds));
  return [
    ..."-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p".split(" "),
    ...["-g", gop, "-keyint_min", gop, "-sc_threshold", "0"],
    ..."-b:v 1000k -maxrate 1000k -bufsize 1000k".split(" "),
  ];
}

/** ffmpeg reading raw yuv420p frames of `width`×`height` at `fps` on stdin. */
export function rawInputArgs(width: number, height: number, fps: number): string[] {
  return [
    "-f",
    "rawvideo",
    "-pix_fmt",
    "yuv420p",
    "-s",
    `${width}x${height}`,
    "-r",
    String(fps),
    "-i",
    "pipe:0",
  ];
}

/**
 * One yuv420p frame: grey, a moving bar (so the encoder has motion to code),
 * and the time code of `ms` across the top.
 */
export function stampedFrame(width: number, height: number, ms: number, index: number): Buffer {
  const frame = Buffer.alloc((width * height * 3) / 2, 128);
  const luma = frame.subarray(0, width * height);
  const barX = (index * 8) % width;
  const top = TIME_CODE_LAYOUT.cell * TIME_CODE_LAYOUT.rows + 32;
  for (let y = top; y < height; y += 1)
    luma.fill(200, y * width + barX, y * width + Math.min(width, barX + 24));
  drawTimeCode(luma, width, ms);
  return frame;
}

/**
 * Generates frames in real time, each stamped with the wall-clock time at
 * which it is handed to the encoder (its "capture" instant), and pipes them to
 * ffmpeg publishing to `url`. Everything after that instant — encoding, RTMP,
 * the origin, the relays, the player's buffer, decoding, display — is what
 * the bench measures.
 */
export function startStampedSource(o: StampedSourceOptions): StampedSource {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const fps = o.fps ?? 30;
  const now = o.now ?? Date.now;
  const args = [
    ..."-hide_banner -loglevel error -nostdin".split(" "),
    ...rawInputArgs(width, height, fps),
    ...x264Args(fps, o.keyframeSeconds ?? 1),
    ..."-f flv".split(" "),
    o.url,
  ];
  const proc = spawn(o.ffmpegPath ?? "ffmpeg", args, { stdio: ["pipe", "ignore", "pipe"] });
  proc.stdin?.on("error", () => {}); // EPIPE once ffmpeg is gone; its exit is what callers watch
  const intervalMs = 1000 / fps;
  const startedAt = now();
  let index = 0;
  let late = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const t = now();
    // A slot missed (the event loop was busy) is still filled, late: the media timeline must stay
    // at exactly `fps`, or the player, which plays media time in real time, would run dry. Each
    // frame carries the instant it was really handed over, so lateness is measured, not hidden.
    const due = Math.floor((t - startedAt) / intervalMs);
    if (due > index) late += due - index;
    do {
      proc.stdin?.write(stampedFrame(width, height, t, index));
      index += 1;
    } while (index <= due);
    timer = setTimeout(tick, Math.max(0, startedAt + index * intervalMs - now()));
  };
  tick();
  return {
    proc,
    frames: () => index,
    late: () => late,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      proc.stdin?.end();
      proc.kill("SIGKILL");
    },
  };
}
