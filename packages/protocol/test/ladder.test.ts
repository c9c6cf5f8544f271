import {
  checkAttestationFor,
  checkAttestationForFile,
  checkMultivariantPlaylist,
  creditYardstick,
  DEFAULT_LADDER,
  describeLadder,
  isInitRendition,
  LadderSchema,
  MAX_RUNG_TO_SOURCE,
  OFF_CHAIN_DOMAIN,
  parseLadderSpec,
  parseMultivariantPlaylist,
  renderMultivariantPlaylist,
  renditionName,
  rungOfRendition,
  SrpError,
  sha256Hex,
  signSegmentAttestation,
  splitMediaPath,
} from "@streamrp2p/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof SrpError ? err.code : `not SrpError: ${String(err)}`;
  }
}

describe("ladder config", () => {
  it("defaults to the source alone", () => {
    expect(LadderSchema.parse(undefined)).toEqual(DEFAULT_LADDER);
    expect(parseLadderSpec("source")).toEqual([{ name: "source" }]);
  });

  it("parses presets and custom rungs, putting the source first", () => {
    const ladder = parseLadderSpec("720p,mobile:144:150:48");
    expect(ladder).toEqual([
      { name: "source" },
      { name: "720p", height: 720, videoKbps: 2800, audioKbps: 128 },
      { name: "mobile", height: 144, videoKbps: 150, audioKbps: 48 },
    ]);
    expect(describeLadder(ladder)).toBe(
      "source (passthrough), 720p (720p, 2800+128 kbit/s), mobile (144p, 150+48 kbit/s)",
    );
  });

  it("refuses duplicates, reserved names, odd heights, absurd bitrates and too many rungs", () => {
    for (const spec of [
      "source,720p,720p",
      "main:240:300:64",
      "init:240:300:64",
      "x:241:300:64",
      "x:240:1:64",
      "x:240",
      "Bad:240:300:64",
      "144p,240p,360p,480p,720p,1080p",
      "../x:240:300:64",
    ]) {
      expect(
        codeOf(() => parseLadderSpec(spec)),
        spec,
      ).toBe("BAD_REQUEST");
    }
    expect(LadderSchema.safeParse([{ name: "720p", height: 720, videoKbps: 1, audioKbps: 1 }]).success).toBe(
      false,
    );
  });
});

describe("renditions on the wire", () => {
  it("keep the source's names and give each rung its own", () => {
    expect(renditionName("source", "segment")).toBe("main");
    expect(renditionName("source", "init")).toBe("init");
    expect(renditionName("360p", "segment")).toBe("360p");
    expect(renditionName("360p", "init")).toBe("360p.init");
    expect(isInitRendition("360p.init") && isInitRendition("init") && !isInitRendition("360p")).toBe(true);
    expect(rungOfRendition("360p.init")).toBe("360p");
    expect(rungOfRendition("main")).toBe("source");
    expect(splitMediaPath("/live/demo/360p/seg-3.m4s")).toEqual({
      streamId: "demo",
      rung: "360p",
      file: "seg-3.m4s",
    });
    expect(splitMediaPath("/live/demo/seg-3.m4s")).toEqual({
      streamId: "demo",
      rung: "source",
      file: "seg-3.m4s",
    });
    expect(splitMediaPath("/x/demo/seg-3.m4s")).toBeUndefined();
  });

  it("attack: a segment signed for one rung is refused as another's (or as the source's), and an init as a segment", async () => {
    const signer = privateKeyToAccount(generatePrivateKey());
    const bytes = Buffer.from("360p bytes");
    const facts = {
      streamId: "demo",
      seq: 5,
      initVersion: 2,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs: 1000,
      producedAt: 1,
    };
    const low = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, { ...facts, rendition: "360p" });
    expect(checkAttestationForFile(low, "demo", "seg-5.m4s", "360p")).toEqual({
      kind: "segment",
      seq: 5,
      rung: "360p",
    });
    expect(codeOf(() => checkAttestationForFile(low, "demo", "seg-5.m4s", "720p"))).toBe(
      "ATTESTATION_MISMATCH",
    );
    expect(codeOf(() => checkAttestationForFile(low, "demo", "seg-5.m4s"))).toBe("ATTESTATION_MISMATCH");
    const main = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, { ...facts, rendition: "main" });
    expect(codeOf(() => checkAttestationForFile(main, "demo", "seg-5.m4s", "360p"))).toBe(
      "ATTESTATION_MISMATCH",
    );
    const init = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, {
      ...facts,
      rendition: "360p.init",
      seq: 2,
    });
    expect(codeOf(() => checkAttestationForFile(init, "demo", "init-2.mp4", "360p"))).toBeUndefined();
    expect(codeOf(() => checkAttestationFor(init, "demo", { kind: "segment", seq: 2, rung: "360p" }))).toBe(
      "ATTESTATION_MISMATCH",
    );
    expect(codeOf(() => checkAttestationForFile(init, "demo", "init-2.mp4"))).toBe("ATTESTATION_MISMATCH");
  });
});

describe("multivariant playlists", () => {
  it("list every rung with bandwidth, resolution and codecs, highest first, and parse back", () => {
    const text = renderMultivariantPlaylist([
      {
        rung: "360p",
        bandwidth: 900_000,
        averageBandwidth: 800_000,
        width: 640,
        height: 360,
        codecs: ["avc1.64001e", "mp4a.40.2"],
      },
      {
        rung: "source",
        bandwidth: 3_000_000,
        averageBandwidth: 2_500_000,
        width: 1280,
        height: 720,
        codecs: ["avc1.64001f"],
      },
    ]);
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f"\nindex.m3u8',
    );
    expect(text).toContain("360p/index.m3u8");
    const parsed = parseMultivariantPlaylist(text);
    expect(parsed.map((v) => [v.uri, v.bandwidth, v.resolution?.height])).toEqual([
      ["index.m3u8", 3_000_000, 720],
      ["360p/index.m3u8", 900_000, 360],
    ]);
  });

  it("refuse truncated or garbage multivariant playlists", () => {
    for (const text of [
      "",
      "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
      "#EXTM3U\nindex.m3u8\n",
      "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nx\n",
    ]) {
      expect(codeOf(() => parseMultivariantPlaylist(text))).toBe("MALFORMED_PLAYLIST");
    }
  });

  it("attack: a relay's multivariant playlist cannot send the player anywhere through tags other than a variant's URI", () => {
    const honest = renderMultivariantPlaylist([
      {
        rung: "source",
        bandwidth: 2_000_000,
        averageBandwidth: 1_800_000,
        codecs: ["avc1.64001f", "mp4a.40.2"],
      },
      { rung: "360p", bandwidth: 900_000, averageBandwidth: 800_000, codecs: ["avc1.64001e", "mp4a.40.2"] },
    ]);
    expect(checkMultivariantPlaylist(honest).map((v) => v.uri)).toEqual(["index.m3u8", "360p/index.m3u8"]);
    // hls.js follows each of these URIs (an audio or subtitle track, an I-frame playlist, a key,
    // session data, a content-steering server): another stream's objects are refused one by one
    // on every node, so a viewer that took this playlist stalls for good.
    const smuggled = [
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="../other/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="en",URI="../other/subs.m3u8"',
      '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="../other/index.m3u8"',
      '#EXT-X-SESSION-KEY:METHOD=AES-128,URI="../other/key"',
      '#EXT-X-SESSION-DATA:DATA-ID="x",URI="../other/data.json"',
      '#EXT-X-CONTENT-STEERING:SERVER-URI="https://elsewhere.example/steer"',
      '#EXT-X-DEFINE:NAME="p",VALUE="../other"',
    ];
    for (const tag of smuggled) {
      const text = honest.replace("#EXT-X-INDEPENDENT-SEGMENTS\n", `#EXT-X-INDEPENDENT-SEGMENTS\n${tag}\n`);
      expect(text).toContain(tag);
      expect(
        codeOf(() => checkMultivariantPlaylist(text)),
        tag,
      ).toBe("MALFORMED_PLAYLIST");
    }
  });
});

describe("credit yardstick (one rendition per second)", () => {
  it("keeps, per segment number, the largest rendition's size (a rung at most MAX_RUNG_TO_SOURCE× the source's) at the source's time, and leaves inits out", () => {
    const rows = [
      { rendition: "main", seq: 1, byteLength: 100, producedAt: 10 },
      { rendition: "720p", seq: 1, byteLength: 300, producedAt: 12 },
      { rendition: "360p", seq: 1, byteLength: 50, producedAt: 11 },
      { rendition: "720p.init", seq: 1, byteLength: 9_999, producedAt: 1 },
      { rendition: "init", seq: 1, byteLength: 9_999, producedAt: 1 },
      { rendition: "360p", seq: 2, byteLength: 40, producedAt: 21 },
    ];
    expect(creditYardstick(rows).map((r) => [r.seq, r.byteLength, r.producedAt])).toEqual([
      [1, 200, 10], // the 720p rung's 300 bytes count for at most 2 × the source's 100
      [2, 40, 21], // no source segment: its smallest rung
    ]);
  });

  it("attack: a streamer-signed rung 50× the source raises the yardstick by at most MAX_RUNG_TO_SOURCE", () => {
    const rows = [
      { rendition: "main", seq: 1, byteLength: 1_000, producedAt: 10 },
      { rendition: "huge", seq: 1, byteLength: 50_000, producedAt: 10 },
      { rendition: "huge", seq: 2, byteLength: 50_000, producedAt: 20 },
      { rendition: "360p", seq: 2, byteLength: 250, producedAt: 20 },
    ];
    expect(creditYardstick(rows).map((r) => r.byteLength)).toEqual([MAX_RUNG_TO_SOURCE * 1_000, 250]);
  });
});
