import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import { createOrigin, type Origin } from "@streamrp2p/origin";
import {
  decodeAttestationHeader,
  parseLadderSpec,
  parseMediaPlaylist,
  parseMultivariantPlaylist,
} from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStaticRelay } from "../../../test/support/fixtures.ts";
import { decodeAll, requireFfmpeg, tempDir, waitUntil } from "../../../test/support/tools.ts";

const signingKey = generatePrivateKey();
const streamKey = "sk_ladder_key_0123456789";
// Small on purpose: a 320x240 source and two rungs below it keep ffmpeg's load light.
const ladder = parseLadderSpec("source,180p:180:300:64,120p:120:120:32");

interface Probed {
  width: number;
  height: number;
  videoKbps: number;
  codecs: string[];
}

/**
 * ffprobe's view of a rung: picture size, codecs, and the video bitrate from
 * its packets' sizes over `seconds` of playback (fMP4 carries no bitrate tag).
 */
function probe(file: string, seconds: number): Probed {
  const streams = execFileSync(
    "ffprobe",
    ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height", "-of", "json", file],
    { encoding: "utf8" },
  );
  const parsed = JSON.parse(streams) as {
    streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>;
  };
  const video = parsed.streams.find((s) => s.codec_type === "video");
  const packets = execFileSync(
    "ffprobe",
    ["-v", "error", "-select_streams", "v", "-show_entries", "packet=size", "-of", "csv=p=0", file],
    { encoding: "utf8" },
  );
  let bytes = 0;
  for (const line of packets.trim().split("\n")) bytes += Number(line);
  return {
    width: video?.width ?? 0,
    height: video?.height ?? 0,
    videoKbps: (bytes * 8) / seconds / 1000,
    codecs: parsed.streams.map((s) => s.codec_name).sort(),
  };
}

describe("origin: an adaptive-bitrate ladder (real ffmpeg, x264)", () => {
  let relay: Relay;
  let origin: Origin;
  let source: ChildProcess | undefined;
  const dir = tempDir("ladder");

  beforeAll(async () => {
    requireFfmpeg();
    relay = await startStaticRelay({ demo: privateKeyToAccount(signingKey).address });
    origin = createOrigin(
      { rtmpPort: 0, httpPort: 0, endGraceMs: 300, ladder, encoder: "auto" },
      [{ streamId: "demo", streamKey, signingKey }],
      {
        log: silentLogger,
        resolveIngest: async () => [
          { nodeId: relay.nodeId as `0x${string}`, url: relay.url, region: "local" },
        ],
      },
    );
    await origin.start();
  });
  afterAll(async () => {
    source?.kill("SIGKILL");
    await origin.stop();
    await relay.stop();
  });

  it("transcodes every rung with keyframes aligned to the source's, attested per rung; ffprobe confirms sizes and bitrates", async () => {
    source = startTestSource({
      url: `${origin.rtmpUrl()}/${streamKey}`,
      width: 320,
      height: 240,
      fps: 15,
      keyframeSeconds: 1,
      durationS: 7,
    });
    await waitUntil(
      "the broadcast ended on the relay",
      async () =>
        (await fetch(`${relay.url}/live/demo/index.m3u8`)).text().then((t) => t.includes("ENDLIST")),
      30_000,
    );
    await origin.settled("demo");
    const sourceList = parseMediaPlaylist(await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text());
    const sourceSeqs = sourceList.segments.map((s) => s.mediaSequence);
    expect(sourceSeqs.length).toBeGreaterThanOrEqual(4);

    for (const rung of ["180p", "120p"]) {
      const target = ladder.find((r) => r.name === rung);
      if (!target || !("height" in target)) throw new Error("ladder");
      const list = parseMediaPlaylist(
        await (await fetch(`${relay.url}/live/demo/${rung}/index.m3u8`)).text(),
      );
      // Aligned: the same segment numbers as the source, each as long as the source's (within a frame or so).
      const seqs = list.segments.map((s) => s.mediaSequence);
      expect(seqs.filter((s) => sourceSeqs.includes(s)).length, rung).toBeGreaterThanOrEqual(
        sourceSeqs.length - 1,
      );
      for (const s of list.segments) {
        const twin = sourceList.segments.find((x) => x.mediaSequence === s.mediaSequence);
        if (twin && s !== list.segments.at(-1))
          expect(Math.abs(s.durationS - twin.durationS), `${rung} ${s.uri}`).toBeLessThan(0.15);
      }
      const parts: Buffer[] = [];
      const init = await fetch(`${relay.url}/live/demo/${rung}/${list.segments[0]?.mapUri}`);
      expect(decodeAttestationHeader(init.headers.get("x-srp-attestation") ?? undefined).rendition).toBe(
        `${rung}.init`,
      );
      parts.push(Buffer.from(await init.arrayBuffer()));
      for (const s of list.segments) {
        const res = await fetch(`${relay.url}/live/demo/${rung}/${s.uri}`);
        expect(decodeAttestationHeader(res.headers.get("x-srp-attestation") ?? undefined).rendition).toBe(
          rung,
        );
        parts.push(Buffer.from(await res.arrayBuffer()));
      }
      const file = join(dir, `${rung}.mp4`);
      writeFileSync(file, Buffer.concat(parts));
      decodeAll(file);
      const p = probe(
        file,
        list.segments.reduce((n, s) => n + s.durationS, 0),
      );
      process.stdout.write(
        `RUNG ${rung} ${p.width}x${p.height} video ${p.videoKbps.toFixed(0)} kbit/s (target ${target.videoKbps})\n`,
      );
      expect(p.height).toBe(target.height);
      expect(p.width).toBe((target.height * 4) / 3);
      expect(p.codecs).toEqual(["aac", "h264"]);
      expect(p.videoKbps).toBeGreaterThan(target.videoKbps * 0.6);
      expect(p.videoKbps).toBeLessThan(target.videoKbps * 1.3);
    }
    // The relay's multivariant playlist: every rung, with the resolution and codecs of its signed init.
    const variants = parseMultivariantPlaylist(
      await (await fetch(`${relay.url}/live/demo/master.m3u8`)).text(),
    );
    expect(variants.map((v) => [v.uri, v.resolution?.height])).toEqual([
      ["index.m3u8", 240],
      ["180p/index.m3u8", 180],
      ["120p/index.m3u8", 120],
    ]);
    const text = await (await fetch(`${relay.url}/live/demo/master.m3u8`)).text();
    expect(text).toMatch(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    expect(origin.stats("demo")?.rungSegments).toMatchObject({
      "180p": expect.any(Number),
      "120p": expect.any(Number),
    });
  }, 60_000);
});
