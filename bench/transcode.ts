/**
 * ABR transcoding on this machine: `npm run bench:transcode`
 *   node --import tsx bench/transcode.ts [--seconds 10] [--latency-seconds 20]
 *
 * The origin's own ffmpeg command (spawnFlvRemux with a ladder) on a 1280x720
 * 30 fps source (H.264 3 Mbit/s + AAC, 1 s GOP, as OBS sends it):
 * 1. Speed: --seconds of media fed as fast as ffmpeg takes it, for the
 *    source passthrough alone (the reference, same run) and for ladders of
 *    1 to 4 transcoded rungs. A ladder is sustained in real time when its
 *    speed is >= 1x (with margin: the machine also runs the rest of a node).
 * 2. CPU per rendition: ffmpeg's CPU seconds (utime + stime from /proc) per
 *    media second with one rung, minus the passthrough's, in % of one core.
 * 3. Added latency: --latency-seconds fed at live pace through the origin's
 *    segmenter and rendition aligner with the full ladder; for every segment,
 *    ms from the source segment being cut (the reference) to each rung's
 *    aligned segment being cut.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  ORIGIN_DEFAULTS,
  RenditionAligner,
  RUNG_FD,
  Segmenter,
  spawnFlvRemux,
  type Transcode,
} from "@streamrp2p/origin";
import { LADDER_PRESETS, type TranscodedRung } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { tempDir } from "../test/support/tools.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    "latency-seconds": { type: "string", default: "20" },
  },
});
const SECONDS = Number(values.seconds);
const LATENCY_SECONDS = Number(values["latency-seconds"]);
const progress = (line: string) => console.log(`[bench:transcode] ${line}`);
const CLK_TCK = 100; // clock ticks per second in /proc/<pid>/stat (getconf CLK_TCK on Linux)

const R = (name: string) => LADDER_PRESETS[name] as TranscodedRung;
const LADDERS: Array<{ label: string; rungs: TranscodedRung[] }> = [
  { label: "360p", rungs: [R("360p")] },
  { label: "480p", rungs: [R("480p")] },
  { label: "720p", rungs: [R("720p")] },
  { label: "480p+360p", rungs: [R("480p"), R("360p")] },
  { label: "720p+480p+360p", rungs: [R("720p"), R("480p"), R("360p")] },
  { label: "720p+480p+360p+240p", rungs: [R("720p"), R("480p"), R("360p"), R("240p")] },
];

function makeSource(dir: string, seconds: number): string {
  const out = join(dir, `source-${seconds}.flv`);
  const r = spawnSync(
    "ffmpeg",
    [
      ...(
        "-hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 " +
        "-f lavfi -i sine=frequency=440:sample_rate=48000"
      ).split(" "),
      "-t",
      String(seconds),
      ...(
        "-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -g 30 -keyint_min 30 " +
        "-sc_threshold 0 -b:v 3000k -maxrate 3000k -bufsize 3000k -c:a aac -b:a 128k -ar 48000 -f flv"
      ).split(" "),
      out,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`cannot make the source: ${r.stderr}`);
  return out;
}

/** utime + stime of a live process, seconds; undefined once it is gone. */
function cpuOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The origin's ffmpeg on `flv` as fast as it goes; wall and CPU seconds. */
async function speedRun(
  flv: Buffer,
  transcode: Transcode | undefined,
): Promise<{ wall: number; cpu: number }> {
  const start = performance.now();
  const proc = spawnFlvRemux("ffmpeg", ORIGIN_DEFAULTS.partTargetMs, silentLogger, transcode);
  let cpu = 0;
  const poll = setInterval(() => {
    cpu = cpuOf(proc.pid ?? -1) ?? cpu;
  }, 20);
  proc.stdout?.resume();
  for (let i = 0; i < (transcode?.rungs.length ?? 0); i++) proc.stdio[RUNG_FD + i]?.on("data", () => {});
  proc.stdin?.end(flv);
  const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}`);
  return { wall: (performance.now() - start) / 1000, cpu };
}

function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Live-paced run through the origin's segmenter and aligner: ms each rung's segment lags the source's. */
async function latencyRun(flvPath: string, rungs: TranscodedRung[]) {
  const pacer = spawn(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", "-re", "-i", flvPath, "-c", "copy", "-f", "flv", "pipe:1"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const proc = spawnFlvRemux("ffmpeg", ORIGIN_DEFAULTS.partTargetMs, silentLogger, {
    encoder: "libx264",
    rungs,
  });
  pacer.stdout?.pipe(proc.stdin as NodeJS.WritableStream);
  const sourceAt = new Map<number, number>();
  const rungAt = rungs.map(() => new Map<number, number>());
  const aligners = rungs.map(
    (_, i) =>
      new RenditionAligner(
        { toleranceMs: 150, maxPending: 32 },
        (s) => rungAt[i]?.set(s.seq, performance.now()),
        () => {},
      ),
  );
  let seq = 0;
  const source = new Segmenter(1000, {
    onInit: () => {},
    onSegment: (s) => {
      sourceAt.set(seq, performance.now());
      for (const a of aligners) a.addBoundary({ seq, startMs: s.startMs, endMs: s.startMs + s.durationMs });
      seq += 1;
    },
  });
  proc.stdout?.on("data", (c: Buffer) => source.push(c));
  rungs.forEach((_, i) => {
    const seg = new Segmenter(0, { onInit: () => {}, onSegment: (g) => aligners[i]?.addGop(g) });
    proc.stdio[RUNG_FD + i]?.on("data", (c: Buffer) => seg.push(c));
  });
  let cpu = 0;
  const poll = setInterval(() => {
    cpu = cpuOf(proc.pid ?? -1) ?? cpu;
  }, 50);
  const started = performance.now();
  await new Promise((resolve) => proc.once("exit", resolve));
  clearInterval(poll);
  const wall = (performance.now() - started) / 1000;
  const added = rungs.map((r, i) => {
    const lags: number[] = [];
    for (const [s, at] of rungAt[i] ?? []) {
      const ref = sourceAt.get(s);
      if (ref !== undefined) lags.push(at - ref);
    }
    return { rung: r.name, lags, segments: rungAt[i]?.size ?? 0 };
  });
  return { added, sourceSegments: sourceAt.size, cpuPercent: (cpu / wall) * 100 };
}

async function main(): Promise<void> {
  const dir = tempDir("bench-transcode");
  progress(`making a ${SECONDS} s and a ${LATENCY_SECONDS} s 1280x720 30 fps source (3 Mbit/s)…`);
  const flv = readFileSync(makeSource(dir, SECONDS));
  const livePath = makeSource(dir, LATENCY_SECONDS);

  progress("reference: the source passthrough alone (remux, no transcoding)…");
  const ref = await speedRun(flv, undefined);
  const refCpuPerS = ref.cpu / SECONDS;
  progress(
    `passthrough: ${(SECONDS / ref.wall).toFixed(1)}x real time, ${(refCpuPerS * 100).toFixed(1)} % of a core`,
  );
  console.log(`RESULT transcode_passthrough_speed ${(SECONDS / ref.wall).toFixed(2)} x_realtime`);
  console.log(`RESULT transcode_passthrough_cpu ${(refCpuPerS * 100).toFixed(1)} percent_core`);

  let sustained = 0;
  for (const l of LADDERS) {
    progress(`ladder source + ${l.label} (libx264 veryfast/zerolatency), ${SECONDS} s of media…`);
    const r = await speedRun(flv, { encoder: "libx264", rungs: l.rungs });
    const speed = SECONDS / r.wall;
    const cpuPerS = r.cpu / SECONDS;
    progress(`  ${speed.toFixed(2)}x real time, ${(cpuPerS * 100).toFixed(0)} % of a core per media second`);
    console.log(`RESULT transcode_speed_${l.label.replaceAll("+", "_")} ${speed.toFixed(2)} x_realtime`);
    if (l.rungs.length === 1)
      console.log(
        `RESULT transcode_cpu_per_rung_${l.label} ${((cpuPerS - refCpuPerS) * 100).toFixed(0)} percent_core`,
      );
    // 1.2x: real time with room for the rest of the node (signing, pushing) on the same cores.
    if (speed >= 1.2) sustained = Math.max(sustained, l.rungs.length);
  }
  console.log(`RESULT transcode_rungs_sustained_realtime ${sustained} rungs`);

  const full = LADDERS.find((l) => l.label === "720p+480p+360p")?.rungs ?? [];
  progress(
    `added latency: ${LATENCY_SECONDS} s at live pace, source + ${full.map((r) => r.name).join(" + ")}…`,
  );
  const lat = await latencyRun(livePath, full);
  progress(
    `  ${lat.sourceSegments} source segments; ffmpeg used ${lat.cpuPercent.toFixed(0)} % of a core at live pace`,
  );
  console.log(`RESULT transcode_live_cpu_3_rungs ${lat.cpuPercent.toFixed(0)} percent_core`);
  for (const a of lat.added) {
    if (a.lags.length < lat.sourceSegments / 2)
      throw new Error(`rung ${a.rung}: only ${a.lags.length} of ${lat.sourceSegments} segments aligned`);
    progress(`  ${a.rung}: ${a.segments} segments, added p50 ${quantile(a.lags, 0.5).toFixed(0)} ms`);
    console.log(`RESULT transcode_added_latency_p50_${a.rung} ${quantile(a.lags, 0.5).toFixed(0)} ms`);
    console.log(`RESULT transcode_added_latency_p95_${a.rung} ${quantile(a.lags, 0.95).toFixed(0)} ms`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
