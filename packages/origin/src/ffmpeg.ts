import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { SrpError, type TranscodedRung } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import { encoderInputArgs, rungVideoArgs, type VideoEncoder } from "./encoder.ts";

/**
 * ffmpeg cuts a fragment at the first frame at or past -frag_duration, so a
 * fragment overshoots what was asked by up to one frame (and by FLV's
 * millisecond timestamps). Asking this much less keeps every fragment (an
 * LL-HLS part) within the announced part target, as the spec requires, at
 * 20 fps and above (measured: 254 ms fragments when 240 ms were asked).
 */
const FRAGMENT_SLACK_MS = 50; // ms

/** Fragmented MP4, a fragment at every keyframe and about every `fragmentMs` (-frag_duration is in µs). */
function fmp4Mux(fragmentMs: number): string[] {
  const fragmentUs = Math.max(1, fragmentMs - FRAGMENT_SLACK_MS) * 1000;
  return [
    ..."-f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof -frag_duration".split(" "),
    String(fragmentUs),
  ];
}

/** The source rendition: the streamer's encoding passed through, on stdout; each fragment is one LL-HLS part. */
function sourceOutput(fragmentMs: number, extra: string[] = []): string[] {
  return [..."-map 0:v:0? -map 0:a:0? -c copy".split(" "), ...extra, ...fmp4Mux(fragmentMs), "pipe:1"];
}

/** Rungs carry no LL-HLS parts: a fragment every 0.5 s is enough. */
const RUNG_FRAGMENT_MS = 500 + FRAGMENT_SLACK_MS;

/** The transcoded rungs of a ladder and the encoder that makes them. */
export interface Transcode {
  encoder: VideoEncoder;
  rungs: TranscodedRung[];
}

/** The first file descriptor a rung's fMP4 is written to; rung i gets RUNG_FD + i. */
export const RUNG_FD = 3;

/**
 * Every rung as one more output of the same ffmpeg (one decode, one process):
 * rung i as fMP4 on file descriptor RUNG_FD + i, scaled and encoded with
 * keyframes where the source has them, AAC at the rung's audio bitrate.
 */
function rungOutputs(t: Transcode | undefined): string[] {
  return (t?.rungs ?? []).flatMap((rung, i) => [
    ..."-map 0:v:0 -map 0:a:0?".split(" "),
    ...rungVideoArgs(t?.encoder ?? "libx264", rung),
    ..."-c:a aac -b:a".split(" "),
    `${rung.audioKbps}k`,
    ...fmp4Mux(RUNG_FRAGMENT_MS),
    `pipe:${RUNG_FD + i}`,
  ]);
}

/** stdin, stdout (the source), stderr, then one pipe per rung. */
function stdio(first: "pipe" | "ignore", t: Transcode | undefined): Array<"pipe" | "ignore"> {
  return [first, "pipe", "pipe", ...(t?.rungs ?? []).map(() => "pipe" as const)];
}

/** Probing less than the default cuts ~1.3 s of start-up; the sequence headers come first anyway. */
const FAST_PROBE = "-analyzeduration 300000 -probesize 65536".split(" ");

const QUIET = "-hide_banner -loglevel warning".split(" ");

/** Throws a clear error when ffmpeg cannot run. */
export function requireFfmpeg(ffmpegPath: string): void {
  const r = spawnSync(ffmpegPath, ["-hide_banner", "-version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new SrpError(
      "UNAVAILABLE",
      `ffmpeg not found at '${ffmpegPath}': install it (Debian/Ubuntu: apt-get install ffmpeg) or set --ffmpeg`,
      { cause: r.error },
    );
  }
}

/** ffmpeg echoes its input URL in errors: every secret in it, raw or URL-encoded, is cut from what is logged. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      if (form.length > 0) out = out.split(form).join("[redacted]");
    }
  }
  return out;
}

function watch(proc: ChildProcess, log: Logger, what: string, secrets: readonly string[] = []): ChildProcess {
  let stderr = "";
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  proc.on("exit", (code, signal) => {
    const tail = redact(stderr.trim(), secrets).split("\n").slice(-3).join(" | ");
    const fields = { what, code, signal, stderr: tail };
    // ffmpeg answers our SIGTERM with exit code 255 ("Immediate exit requested"): a requested stop, not a failure.
    const requested = signal === "SIGTERM" || (code === 255 && proc.killed);
    if (code === 0 || requested) log.info("ffmpeg exited", fields);
    else log.warn("ffmpeg failed", fields);
  });
  return proc;
}

/**
 * ffmpeg remuxing an FLV byte stream on stdin (from our RTMP front end) to
 * fMP4 on stdout, and transcoding the ladder's other rungs (`transcode`) to
 * fMP4 on the pipes after stderr.
 */
export function spawnFlvRemux(
  ffmpegPath: string,
  fragmentMs: number,
  log: Logger,
  transcode?: Transcode,
): ChildProcess {
  const input = [...encoderInputArgs(transcode?.encoder ?? "libx264"), "-f", "flv", "-i", "pipe:0"];
  const args = [...QUIET, ...FAST_PROBE, ...input, ...sourceOutput(fragmentMs), ...rungOutputs(transcode)];
  const proc = spawn(ffmpegPath, args, { stdio: stdio("pipe", transcode) });
  proc.stdin?.on("error", () => {}); // EPIPE when ffmpeg exits first; its exit is reported instead
  return watch(proc, log, "flv-remux");
}

/**
 * ffmpeg as an SRT listener for one stream. The passphrase is the stream key:
 * SRT's own handshake refuses a caller without it, so the key check happens
 * before any media is accepted. ffmpeg takes it only in its arguments, which
 * other users of the host can read in /proc: run the origin as its own user
 * with hidden /proc (systemd ProtectProc=invisible; docs/security.md). It is
 * never logged.
 */
export function spawnSrtListener(
  ffmpegPath: string,
  host: string,
  port: number,
  passphrase: string,
  fragmentMs: number,
  log: Logger,
  transcode?: Transcode,
): ChildProcess {
  const query = `mode=listener&passphrase=${encodeURIComponent(passphrase)}&pbkeylen=16&latency=120000`;
  // MPEG-TS carries AAC as ADTS; MP4 needs the raw form (Debian's ffmpeg 5.1 does not convert by itself).
  const input = [
    ...encoderInputArgs(transcode?.encoder ?? "libx264"),
    ..."-f mpegts -i".split(" "),
    `srt://${host}:${port}?${query}`,
  ];
  const output = sourceOutput(fragmentMs, ["-bsf:a", "aac_adtstoasc"]);
  const args = [...QUIET, "-nostdin", ...FAST_PROBE, ...input, ...output, ...rungOutputs(transcode)];
  return watch(spawn(ffmpegPath, args, { stdio: stdio("ignore", transcode) }), log, "srt-listener", [
    passphrase,
  ]);
}
