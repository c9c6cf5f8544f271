import { PlaylistGuard } from "@streamrp2p/player";
import { bytesToBase64url, renderMediaPlaylist, signStreamEnd, utf8 } from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";

const streamer = newAccount();

function playlist(
  from: number,
  to: number,
  ended = false,
  initOf: (seq: number) => number = () => 0,
): string {
  const segments = [];
  for (let seq = from; seq <= to; seq++)
    segments.push({ seq, durationMs: 1000, init: initOf(seq), producedAt: 1_000_000 + seq });
  return renderMediaPlaylist({ segments, ended });
}

async function endHeader(lastSeq: number): Promise<string> {
  const end = await signStreamEnd(streamer, {
    streamId: "demo",
    lastSeq,
    lastAttestation: `0x${"cd".repeat(32)}`,
    producedAt: Date.now(),
  });
  return bytesToBase64url(utf8(JSON.stringify(end)));
}

describe("PlaylistGuard (issue 10, finding 9; review findings 3 and 4)", () => {
  it("refuses an old broadcast's signed end replayed while the stream is live past it", async () => {
    let t = 0;
    const guard = new PlaylistGuard("demo", streamer.address, () => t);
    await guard.check("a", playlist(1195, 1200), null);
    const replay = guard.check("b", playlist(495, 500, true), await endHeader(500));
    await expect(replay).rejects.toMatchObject({ kind: "tampered" });
    // The end of this broadcast is taken.
    t += 1000;
    await expect(
      guard.check("a", playlist(1196, 1201, true), await endHeader(1201)),
    ).resolves.toBeUndefined();
  });

  it("refuses made-up sequence numbers that would keep a frozen node looking fresh", async () => {
    let t = 0;
    const guard = new PlaylistGuard("demo", streamer.address, () => t);
    await guard.check("a", playlist(1195, 1200), null);
    guard.verified(1197, 1000, 0);
    t += 10_000; // ten segment durations later: at most 1197 + 10 + slack can exist
    await expect(guard.check("a", playlist(999_995, 1_000_000), null)).rejects.toMatchObject({
      kind: "tampered",
    });
    await expect(guard.check("a", playlist(1204, 1209), null)).resolves.toBeUndefined();
  });

  it("believes a jump in numbers (an origin restart's next reserved block) only with the edge segment's signature", async () => {
    let t = 0;
    const guard = new PlaylistGuard("demo", streamer.address, () => t);
    guard.verified(9, 1000, 0);
    t += 3_000;
    const restarted = playlist(100, 101, false, () => 1);
    const asked: number[] = [];
    // The node cannot show a signed segment 101: the jump is a lie.
    await expect(
      guard.check("a", restarted, null, async (seq) => {
        asked.push(seq);
        return undefined;
      }),
    ).rejects.toMatchObject({ kind: "tampered" });
    await expect(guard.check("a", restarted, null)).rejects.toMatchObject({ kind: "tampered" });
    // A proof that fails (a bad signature throws) is no proof either.
    await expect(
      guard.check("a", restarted, null, async () => {
        throw new Error("attestation signature: wrong signer");
      }),
    ).rejects.toMatchObject({ kind: "tampered" });
    await expect(
      guard.check("a", restarted, null, async (seq) => {
        asked.push(seq);
        return { durationMs: 1000, initVersion: 1 };
      }),
    ).resolves.toBeUndefined();
    expect(asked).toEqual([101, 101]);
    // Proven: the next playlists of the new broadcast need no proof; its init is now the signed one.
    await expect(
      guard.check(
        "b",
        playlist(100, 102, false, () => 1),
        null,
      ),
    ).resolves.toBeUndefined();
    await expect(
      guard.check(
        "c",
        playlist(100, 101, false, () => 0),
        null,
      ),
    ).rejects.toMatchObject({
      kind: "tampered",
    });
  });

  it("refuses a part signed for another init than the one the playlist maps its segment to (review, LOW)", async () => {
    const guard = new PlaylistGuard("demo", streamer.address, () => 0);
    const segments = [8, 9].map((seq) => ({ seq, durationMs: 1000, init: 2, producedAt: 1_000_000 + seq }));
    const text = renderMediaPlaylist({
      segments,
      ended: false,
      lowLatency: {
        partTargetMs: 250,
        parts: new Map([[9, [{ durationMs: 250, independent: true }]]]),
        inProgress: { seq: 10, init: 3, parts: [{ durationMs: 250, independent: true }] },
        skip: false,
      },
    });
    await guard.check("a", text, null);
    expect(() => guard.checkPartInit(9, 0, 2)).not.toThrow();
    expect(() => guard.checkPartInit(10, 0, 3)).not.toThrow();
    expect(() => guard.checkPartInit(10, 1, 3)).not.toThrow(); // the preload hint
    expect(() => guard.checkPartInit(10, 0, 2)).toThrow(/maps segment 10 to init 3/);
    expect(() => guard.checkPartInit(9, 0, 3)).toThrow(/tampered|maps segment 9 to init 2/);
  });

  it("calls a playlist that stops advancing stale after three target durations", async () => {
    let t = 0;
    const guard = new PlaylistGuard("demo", streamer.address, () => t);
    await guard.check("a", playlist(10, 15), null);
    t += 2_000;
    await expect(guard.check("a", playlist(10, 15), null)).resolves.toBeUndefined();
    t += 5_000;
    await expect(guard.check("a", playlist(10, 15), null)).rejects.toMatchObject({ kind: "stale" });
  });

  it("refuses a playlist that maps a verified segment to another init than the one its attestation signs (finding 6)", async () => {
    const guard = new PlaylistGuard("demo", streamer.address, () => 0);
    guard.verified(12, 1000, 1);
    await expect(
      guard.check(
        "a",
        playlist(10, 15, false, (seq) => (seq < 12 ? 0 : 1)),
        null,
      ),
    ).resolves.toBeUndefined();
    await expect(
      guard.check(
        "b",
        playlist(10, 15, false, () => 0),
        null,
      ),
    ).rejects.toMatchObject({
      kind: "tampered",
    });
    // A playlist that drops the map for a verified segment is the same lie.
    const noMap = playlist(10, 15, false, (seq) => (seq < 12 ? 0 : 1)).replace(/#EXT-X-MAP:[^\n]*\n/g, "");
    await expect(guard.check("c", noMap, null)).rejects.toMatchObject({ kind: "tampered" });
  });
});
