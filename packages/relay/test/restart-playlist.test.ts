import { parseLowLatency, parseMediaPlaylist } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { putPart, signedPart, signedPartedSegment } from "../../../test/support/ll-fixtures.ts";

const streamer = newAccount();
const PARTS = 4;

/**
 * What a player learns from one playlist about each media sequence number:
 * the file and the discontinuity count (hls.js's `cc`). The segment of a
 * preload hint or of listed in-progress parts counts too: hls.js keeps it as
 * its `fragmentHint`, even outside its low-latency mode.
 */
function numbering(text: string): Map<number, { uri: string; cc: number }> {
  const p = parseMediaPlaylist(text);
  const out = new Map<number, { uri: string; cc: number }>();
  let cc = p.discontinuitySequence;
  for (const s of p.segments) {
    if (s.discontinuity) cc += 1;
    out.set(s.mediaSequence, { uri: s.uri, cc });
  }
  const ll = parseLowLatency(text);
  const hinted = /^part-(\d+)\.\d+\.m4s$/.exec(ll.preloadHint ?? ll.parts.at(-1)?.uri ?? "")?.[1];
  if (hinted !== undefined && !out.has(Number(hinted))) {
    const afterLast = text.slice(text.lastIndexOf(".m4s\n") + 5);
    out.set(Number(hinted), {
      uri: `seg-${hinted}.m4s`,
      cc: cc + (afterLast.includes("#EXT-X-DISCONTINUITY") ? 1 : 0),
    });
  }
  return out;
}

/**
 * The rules a player holds successive reloads to (RFC 8216 6.2.1/6.2.2, and
 * hls.js's `mapFragmentIntersection`, whose failure is `levelParsingError`):
 * a number always names the same file in the same discontinuity, a file is
 * listed under its own number, and the media sequence never goes back.
 */
function expectReloadConsistent(before: string, after: string): void {
  const a = numbering(before);
  const b = numbering(after);
  for (const [msn, seg] of b) {
    expect(seg.uri, `MSN ${msn} lists its own file`).toBe(`seg-${msn}.m4s`);
    const old = a.get(msn);
    if (old) expect(seg, `MSN ${msn} across the reload`).toEqual(old);
  }
  expect(parseMediaPlaylist(after).mediaSequence).toBeGreaterThanOrEqual(
    parseMediaPlaylist(before).mediaSequence,
  );
}

describe("playlists across an origin restart (issue 14: hls.js levelParsingError after kill -9)", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function pushSegment(relay: Relay, seq: number, init: number): Promise<void> {
    const { parts, segment } = await signedPartedSegment(streamer, "demo", seq, PARTS, init);
    for (const p of parts) await putPart(relay.url, "demo", p); // the first of a new broadcast may be refused
    expect((await putObject(relay.url, "demo", segment)).status).toBe(201);
  }

  it("a client that did not ask for LL gets plain, consistently numbered playlists; an LL client gets consistent ones too", async () => {
    const relay = await startStaticRelay({ demo: streamer.address }, { playlistSegments: 6 });
    cleanup.push(() => relay.stop());
    const playlists = async () => ({
      plain: await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text(),
      ll: await (await fetch(`${relay.url}/live/demo/index.m3u8?ll=1`)).text(),
    });
    // The first broadcast: segments 0..4, and segment 5 in progress when the origin is killed.
    expect(
      (await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 0, 500))).status,
    ).toBe(201);
    for (let seq = 0; seq < 5; seq++) await pushSegment(relay, seq, 0);
    for (const i of [0, 1])
      expect((await putPart(relay.url, "demo", await signedPart(streamer, "demo", 5, i))).status).toBe(201);
    const steps = [await playlists()];
    // The restarted origin: a new init, and numbers from its next reserved block (never reused).
    expect(
      (await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 1, 500))).status,
    ).toBe(201);
    steps.push(await playlists());
    await pushSegment(relay, 100, 1);
    steps.push(await playlists());
    await pushSegment(relay, 101, 1);
    await putPart(relay.url, "demo", await signedPart(streamer, "demo", 102, 0, undefined, 1));
    steps.push(await playlists());

    for (const s of steps) {
      expect(s.plain).toContain("#EXT-X-VERSION:7");
      for (const tag of ["#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-SERVER-CONTROL", "part-"])
        expect(s.plain).not.toContain(tag);
      expect(s.ll).toContain("#EXT-X-SERVER-CONTROL");
    }
    for (let i = 1; i < steps.length; i++) {
      const [before, after] = [steps[i - 1], steps[i]] as const;
      if (!before || !after) continue;
      expectReloadConsistent(before.plain, after.plain);
      expectReloadConsistent(before.ll, after.ll);
    }
    const last = parseMediaPlaylist(steps.at(-1)?.plain ?? "");
    // The new broadcast is listed from its first segment, as the discontinuity after the old one.
    expect(last.segments.map((s) => s.uri)).toEqual(["seg-100.m4s", "seg-101.m4s"]);
    expect(last.discontinuitySequence).toBe(1);
    expect(parseLowLatency(steps.at(-1)?.ll ?? "").preloadHint).toBe("part-102.1.m4s");
  });
});
