import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { startTestSource } from "@streamrp2p/cli";
import { createOrigin, type Origin } from "@streamrp2p/origin";
import {
  checkPartAttestationFor,
  checkSegmentBytes,
  decodePartAttestationHeader,
  HEADER_PART_ATTESTATION,
  OFF_CHAIN_DOMAIN,
  parseLowLatency,
  parseMediaPlaylist,
  verifyPartAttestation,
} from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startStaticRelay } from "../../../test/support/fixtures.ts";
import { requireFfmpeg, waitUntil } from "../../../test/support/tools.ts";

const signingKey = generatePrivateKey();
const streamKey = "sk_test_key_0123456789";

function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
}

async function playlist(relay: Relay) {
  const res = await fetch(`${relay.url}/live/demo/index.m3u8`);
  return res.status === 200 ? parseMediaPlaylist(await res.text()) : undefined;
}

describe("origin ingest (real ffmpeg)", () => {
  let relay: Relay;
  let origin: Origin;
  const sources: ChildProcess[] = [];
  const srtPort = 20_000 + Math.floor(Math.random() * 20_000);

  beforeAll(async () => {
    requireFfmpeg();
    relay = await startStaticRelay({ demo: privateKeyToAccount(signingKey).address });
    origin = createOrigin(
      { rtmpPort: 0, httpPort: 0, endGraceMs: 300 },
      [{ streamId: "demo", streamKey, signingKey, srtPort }],
      {
        log: silentLogger,
        resolveIngest: async () => [
          { nodeId: relay.nodeId as `0x${string}`, url: relay.url, region: "local" },
        ],
      },
    );
    await origin.start();
  });
  afterEach(() => {
    for (const s of sources.splice(0)) s.kill("SIGKILL");
  });
  afterAll(async () => {
    await origin.stop();
    await relay.stop();
  });

  it("refuses an RTMP publish with a wrong stream key before taking any media", async () => {
    const source = startTestSource({ url: `${origin.rtmpUrl()}/not-the-key`, durationS: 10 });
    sources.push(source);
    const code = await exitOf(source);
    expect(code).not.toBe(0);
    expect(origin.stats("demo")?.segments).toBe(0);
    expect(relay.stream("demo")).toBeUndefined();
  });

  it("drops a malformed RTMP session and keeps serving others", async () => {
    const socket = connect(origin.rtmpPort, "127.0.0.1");
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.resume(); // read (and drop) S0S1S2 so the close is seen
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])); // C0 + C1
    await new Promise((r) => setTimeout(r, 100));
    socket.write(Buffer.alloc(1536)); // C2
    // AMF0 "connect" with no tcUrl: a publish that cannot be routed.
    const amf = Buffer.concat([
      Buffer.from([0x02, 0x00, 0x07]),
      Buffer.from("connect"),
      Buffer.from([0x00]),
      Buffer.from(new Float64Array([1]).buffer).reverse(),
      Buffer.from([0x03, 0x00, 0x03]),
      Buffer.from("app"),
      Buffer.from([0x02, 0x00, 0x04]),
      Buffer.from("live"),
      Buffer.from([0x00, 0x00, 0x09]),
    ]);
    const header = Buffer.from([0x03, 0, 0, 0, 0, 0, amf.length, 0x14, 0, 0, 0, 0]);
    socket.write(Buffer.concat([header, amf]));
    await closed; // the origin hung up on it
    expect(origin.stats("demo")?.live).toBe(false);
  });

  it("packages an RTMP publish into signed segments; a disconnect ends the playlist; a reconnect resumes with a discontinuity", async () => {
    const first = startTestSource({ url: `${origin.rtmpUrl()}/${streamKey}`, durationS: 4 });
    sources.push(first);
    const live = await waitUntil("segments on the relay", async () => {
      const p = await playlist(relay);
      return p && p.segments.length >= 2 ? p : undefined;
    });
    expect(live.ended).toBe(false);
    await exitOf(first);
    const ended = await waitUntil("ENDLIST after the streamer left", async () => {
      const p = await playlist(relay);
      return p?.ended ? p : undefined;
    });
    const lastSeq = ended.segments.at(-1)?.mediaSequence ?? -1;
    expect(ended.segments.every((s) => !s.discontinuity)).toBe(true);

    const second = startTestSource({ url: `${origin.rtmpUrl()}/${streamKey}`, durationS: 30 });
    sources.push(second);
    const resumed = await waitUntil("the same stream, continued", async () => {
      const p = await playlist(relay);
      return p && !p.ended && p.segments.some((s) => s.mapUri === "init-1.mp4") ? p : undefined;
    });
    const firstNew = resumed.segments.find((s) => s.mapUri === "init-1.mp4");
    expect(firstNew?.mediaSequence).toBe(lastSeq + 1); // sequence numbers continue
    if (resumed.segments[0]?.mapUri === "init-0.mp4") expect(firstNew?.discontinuity).toBe(true);
    expect(origin.stats("demo")?.initVersion).toBe(1);
  });

  it("publishes each fragment as a signed LL-HLS part as it is cut; a segment's parts are its bytes", async () => {
    const src = startTestSource({ url: `${origin.rtmpUrl()}/${streamKey}`, durationS: 30 });
    sources.push(src);
    const live = await waitUntil("an LL playlist with a complete segment's parts", async () => {
      const res = await fetch(`${relay.url}/live/demo/index.m3u8?ll=1`);
      if (res.status !== 200) return undefined;
      const text = await res.text();
      const ll = parseLowLatency(text);
      const last = parseMediaPlaylist(text).segments.at(-1);
      const lastSeq = last?.uri.match(/seg-(\d+)/)?.[1];
      return !text.includes("ENDLIST") &&
        lastSeq &&
        ll.parts.some((p) => p.uri.startsWith(`part-${lastSeq}.`))
        ? { ll, seq: Number(lastSeq) }
        : undefined;
    });
    expect(live.ll.partTargetS).toBe(0.25); // ORIGIN_DEFAULTS.partTargetMs, as the origin signed it
    expect(live.ll.serverControl?.["CAN-BLOCK-RELOAD"]).toBe("YES");
    const uris = live.ll.parts.filter((p) => p.uri.startsWith(`part-${live.seq}.`));
    expect(uris[0]?.independent).toBe(true);
    const bodies: Buffer[] = [];
    for (const [i, p] of uris.entries()) {
      expect(p.durationS).toBeLessThanOrEqual(0.25);
      const res = await fetch(`${relay.url}/live/demo/${p.uri}`);
      const att = decodePartAttestationHeader(res.headers.get(HEADER_PART_ATTESTATION) ?? undefined);
      const body = Buffer.from(await res.arrayBuffer());
      await verifyPartAttestation(att, privateKeyToAccount(signingKey).address, OFF_CHAIN_DOMAIN);
      checkPartAttestationFor(att, "demo", live.seq, i);
      checkSegmentBytes(att, body);
      bodies.push(body);
    }
    const seg = await fetch(`${relay.url}/live/demo/seg-${live.seq}.m4s`);
    expect(Buffer.from(await seg.arrayBuffer()).equals(Buffer.concat(bodies))).toBe(true);
    // The part in progress is hinted.
    expect(live.ll.preloadHint).toMatch(new RegExp(`^part-${live.seq + 1}\\.\\d+\\.m4s$`));
  });

  it("refuses a second simultaneous publisher for the same stream", async () => {
    const owner = startTestSource({ url: `${origin.rtmpUrl()}/${streamKey}`, durationS: 30 });
    sources.push(owner);
    const segments = origin.stats("demo")?.segments ?? 0;
    await waitUntil("owner live", () =>
      (origin.stats("demo")?.segments ?? 0) > segments ? true : undefined,
    );
    const intruder = startTestSource({ url: `${origin.rtmpUrl()}/${streamKey}`, durationS: 10 });
    sources.push(intruder);
    expect(await exitOf(intruder)).not.toBe(0);
    expect(owner.exitCode).toBeNull(); // the owner is still publishing
  });

  it("accepts SRT with the stream key as passphrase, and refuses a wrong one", async () => {
    await waitUntil("RTMP publisher gone", async () => {
      for (const s of sources.splice(0)) s.kill("SIGKILL");
      return origin.stats("demo")?.live === false || undefined;
    });
    const wrong = startTestSource({
      url: `srt://127.0.0.1:${srtPort}?passphrase=wrong-passphrase-42&pbkeylen=16`,
      durationS: 3,
    });
    sources.push(wrong);
    await exitOf(wrong);
    expect(origin.stats("demo")?.live).toBe(false);
    const before = origin.stats("demo")?.segments ?? 0;
    const initBefore = origin.stats("demo")?.initVersion ?? -1;
    const srt = startTestSource({
      url: `srt://127.0.0.1:${srtPort}?passphrase=${streamKey}&pbkeylen=16`,
      durationS: 30,
    });
    sources.push(srt);
    await waitUntil(
      "segments from SRT",
      () => ((origin.stats("demo")?.segments ?? 0) >= before + 2 ? true : undefined),
      20_000,
    );
    const p = await playlist(relay);
    expect(p?.segments.at(-1)?.mapUri).toBe(`init-${initBefore + 1}.mp4`);
  });
});
