import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { TranscodedRung } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { VideoEncoderChoice } from "./defaults.ts";

export type VideoEncoder = Exclude<VideoEncoderChoice, "auto">;

/** The render node VAAPI encodes on (the first GPU). */
const VAAPI_DEVICE = "/dev/dri/renderD128";
/** A trial encode that takes longer than this means the encoder is not usable here. */
const TRIAL_TIMEOUT_MS = 10_000; // ms

/** Input options an encoder needs before `-i` (VAAPI opens its device there). */
export function encoderInputArgs(encoder: VideoEncoder): string[] {
  return encoder === "h264_vaapi" ? ["-vaapi_device", VAAPI_DEVICE] : [];
}

/**
 * The video options of one rung. Every encoder forces a keyframe exactly
 * where the source has one (`-force_key_frames source`) and inserts none of
 * its own within a segment's reach (no scene cuts, a long GOP), so every
 * rung's segments start at the source's keyframes: aligned renditions.
 * Never upscales: a rung taller than the source keeps the source's height.
 */
export function rungVideoArgs(encoder: VideoEncoder, rung: TranscodedRung): string[] {
  const rate = [
    `-b:v`,
    `${rung.videoKbps}k`,
    "-maxrate",
    `${rung.videoKbps}k`,
    "-bufsize",
    `${rung.videoKbps * 2}k`,
  ];
  // The source's timestamps, kept exactly: no constant-frame-rate resampling and the demuxer's time
  // base (a frame rate guessed from a short probe rounds every timestamp and drifts from the copy's).
  const keys = [..."-force_key_frames source -g 600 -fps_mode passthrough -enc_time_base:v -1".split(" ")];
  const height = `'min(${rung.height},ih)'`;
  switch (encoder) {
    case "h264_vaapi":
      return ["-vf", `format=nv12,hwupload,scale_vaapi=w=-2:h=${height}`, "-c:v", encoder, ...rate, ...keys];
    case "h264_nvenc":
      return [
        "-vf",
        `scale=w=-2:h=${height}`,
        "-c:v",
        encoder,
        "-preset",
        "p1",
        "-tune",
        "ll",
        "-forced-idr",
        "1",
        ...rate,
        ...keys,
      ];
    case "libx264":
      return [
        "-vf",
        `scale=w=-2:h=${height}`,
        ..."-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -sc_threshold 0".split(" "),
        ...rate,
        ...keys,
      ];
  }
}

/** Whether `encoder` produces H.264 on this machine: listed by ffmpeg, and a short trial encode works. */
function works(ffmpegPath: string, encoder: VideoEncoder, listed: string): boolean {
  if (!new RegExp(`\\b${encoder}\\b`).test(listed)) return false;
  if (encoder === "h264_vaapi" && !existsSync(VAAPI_DEVICE)) return false;
  const trial = [
    ..."-hide_banner -loglevel error".split(" "),
    ...encoderInputArgs(encoder),
    ..."-f lavfi -i testsrc=size=256x144:rate=10:duration=0.5".split(" "),
    ...rungVideoArgs(encoder, { name: "trial", height: 144, videoKbps: 200, audioKbps: 32 }),
    ..."-f null -".split(" "),
  ];
  const r = spawnSync(ffmpegPath, trial, { encoding: "utf8", timeout: TRIAL_TIMEOUT_MS });
  return !r.error && r.status === 0;
}

/**
 * The H.264 encoder for transcoded rungs: `choice` when it is not "auto";
 * else the first hardware encoder that passes a trial encode (VAAPI, then
 * NVENC; ffmpeg lists them whether or not a GPU is there), else libx264.
 */
export function chooseVideoEncoder(
  ffmpegPath: string,
  choice: VideoEncoderChoice,
  log: Logger,
): VideoEncoder {
  if (choice !== "auto") return choice;
  const r = spawnSync(ffmpegPath, ["-hide_banner", "-encoders"], {
    encoding: "utf8",
    timeout: TRIAL_TIMEOUT_MS,
  });
  const listed = r.stdout ?? "";
  for (const hw of ["h264_vaapi", "h264_nvenc"] as const) {
    if (works(ffmpegPath, hw, listed)) {
      log.info("hardware H.264 encoder found", { encoder: hw });
      return hw;
    }
  }
  log.info("no hardware H.264 encoder works here: libx264", { listed: /h264_(vaapi|nvenc)/.test(listed) });
  return "libx264";
}
