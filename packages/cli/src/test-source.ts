import { type ChildProcess, spawn } from "node:child_process";

export interface TestSourceOptions {
  ffmpegPath?: string;
  /** Full publish URL, e.g. rtmp://127.0.0.1:1935/live/KEY or srt://127.0.0.1:9000?passphrase=KEY */
  url: string;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in seconds; OBS users set 1-2 s for live. */
  keyframeSeconds?: number;
  /** Stop after this many seconds (default: run until killed). */
  durationS?: number;
}

/**
 * ffmpeg publishing a moving test pattern with a tone, encoded as OBS sends
 * it (H.264 + AAC), to an RTMP or SRT URL: a live network with no other software.
 */
export function startTestSource(o: TestSourceOptions): ChildProcess {
  const fps = o.fps ?? 30;
  const size = `${o.width ?? 640}x${o.height ?? 360}`;
  const isSrt = o.url.startsWith("srt:");
  const args = [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-re",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${size}:rate=${fps}`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    ...(o.durationS ? ["-t", String(o.durationS)] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(fps * (o.keyframeSeconds ?? 1)),
    "-keyint_min",
    String(fps * (o.keyframeSeconds ?? 1)),
    "-sc_threshold",
    "0",
    "-b:v",
    "1000k",
    "-maxrate",
    "1000k",
    "-bufsize",
    "1000k",
    "-c:a",
    "aac",
    "-b:a",
    "96k",
    "-ar",
    "48000",
    "-f",
    isSrt ? "mpegts" : "flv",
    o.url,
  ];
  return spawn(o.ffmpegPath ?? "ffmpeg", args, { stdio: ["ignore", "ignore", "pipe"] });
}
