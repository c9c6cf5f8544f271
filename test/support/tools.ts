import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Fails loudly (never skips) when a binary the test needs is missing. */
export function requireBinary(name: string, installHint: string): void {
  const r = spawnSync(name, ["-version"], { encoding: "utf8" });
  if (r.error) throw new Error(`${name} is required for this test and was not found: ${installHint}`);
}

export function requireFfmpeg(): void {
  requireBinary("ffmpeg", "run scripts/setup.sh (apt-get install ffmpeg)");
  requireBinary("ffprobe", "run scripts/setup.sh (apt-get install ffmpeg)");
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `srp-${prefix}-`));
}

/** Encodes `seconds` of test pattern + tone (H.264/AAC, 1 s GOP) to FLV, as OBS would send. */
export function makeTestFlv(dir: string, seconds: number): string {
  const out = join(dir, "source.flv");
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x180:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    String(seconds),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "30",
    "-keyint_min",
    "30",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-f",
    "flv",
    out,
  ]);
  return out;
}

/** Remuxes FLV to fragmented MP4 exactly as the origin's packager does. */
export function remuxToFmp4(dir: string, flv: string): string {
  const out = join(dir, "out.mp4");
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-i",
    flv,
    "-c",
    "copy",
    "-f",
    "mp4",
    "-movflags",
    "+frag_keyframe+empty_moov+default_base_moof",
    "-frag_duration",
    "500000",
    out,
  ]);
  return out;
}

/** ffprobe's codec names for a file (e.g. ["h264", "aac"]). */
export function probeCodecs(file: string): string[] {
  const out = execFileSync(
    "ffprobe",
    ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", file],
    { encoding: "utf8" },
  );
  return out.trim().split("\n").filter(Boolean).sort();
}

/** Decodes every frame; throws when ffmpeg reports an error. */
export function decodeAll(file: string): void {
  execFileSync("ffmpeg", ["-v", "error", "-xerror", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
}

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`,
  );
}

/** Ports handed out for a later listen come from here: below Linux's ephemeral range (32768-60999). */
const LOW_PORTS = { from: 20_000, count: 12_000 };

/**
 * A port free now, for a process or listener that binds it later. Not from the
 * kernel's ephemeral range: an outgoing connection opened meanwhile (a fetch,
 * Pebble's validation) could take such a port as its local one, and the later
 * listen then fails with EADDRINUSE (seen in https-acme under CI).
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW_PORTS.from + Math.floor(Math.random() * LOW_PORTS.count);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${LOW_PORTS.from}-${LOW_PORTS.from + LOW_PORTS.count - 1}`);
}
