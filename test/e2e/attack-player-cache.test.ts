import { randomBytes } from "node:crypto";
import { type SessionEvent, ViewerSession } from "@streamrp2p/player";
import {
  decodeAttestationHeader,
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  parseMediaPlaylist,
  sha256Hex,
} from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { LyingRelay } from "../support/lying-relay.ts";

/**
 * Issue 10, finding 2: the player remembered verified attestations by their
 * signature alone. A relay served one object honestly, then sent attestations
 * with its own sha256/byteLength beside that cached signature: the player
 * checked the bytes against the forged hash, handed them to hls.js and signed
 * receipts for them. This relay is a real HTTP server in front of an honest one.
 */
function signatureReusingRelay(honest: string) {
  let honestSignature: string | undefined;
  const counts = { forged: 0 };
  const relay = new LyingRelay(honest, (path, answer) => {
    const attHeader = answer.headers[HEADER_ATTESTATION];
    if (!attHeader || !path.includes("seg-")) return answer;
    const att = decodeAttestationHeader(attHeader);
    if (honestSignature === undefined) {
      honestSignature = att.signature; // the first segment goes out honest: the player caches it
      return answer;
    }
    const forged = randomBytes(answer.body.length);
    counts.forged += 1;
    const header = encodeAttestationHeader({
      ...att,
      sha256: sha256Hex(forged),
      byteLength: forged.length,
      signature: honestSignature as `0x${string}`,
    });
    return { ...answer, headers: { ...answer.headers, [HEADER_ATTESTATION]: header }, body: forged };
  });
  return { relay, counts };
}

/** A relay that lies about the window: ENDLIST without a signed end, or one playlist served for ever. */
function playlistLiar(honest: string, lie: "endlist" | "freeze"): LyingRelay {
  let frozen: Buffer | undefined;
  return new LyingRelay(honest, (path, answer) => {
    if (!path.includes(".m3u8") || answer.status !== 200) return answer;
    if (lie === "endlist")
      return { ...answer, body: Buffer.concat([answer.body, Buffer.from("#EXT-X-ENDLIST\n")]) };
    frozen ??= answer.body;
    return { ...answer, body: frozen };
  });
}

describe("attack: a relay reuses a verified signature beside its own hash", () => {
  let live: LiveTestNetwork;
  let liar: ReturnType<typeof signatureReusingRelay>;
  beforeAll(async () => {
    live = await startLiveTestNetwork("attack-player-cache", { probeIntervalMs: 0 });
    liar = signatureReusingRelay(live.net.relays[2]?.url ?? "");
    await liar.relay.start();
  }, 60_000);
  afterAll(async () => {
    await liar?.relay.stop();
    await live?.stop();
  });

  it("the player rejects the forged object, takes it from an honest relay, and signs nothing for it", async () => {
    const { net } = live;
    const honest = net.relays[2];
    if (!honest) throw new Error("no pulling relay");
    const session = await ViewerSession.open({
      coordinatorUrl: net.coordinator.url,
      streamId: net.streamId,
      receiptIntervalMs: 3_600_000,
      nodesRefreshMs: 3_600_000,
    });
    const liarId = "0x000000000000000000000000000000000000dead";
    session.pool.replace([
      { nodeId: liarId, url: liar.relay.url, score: 1e9 },
      { nodeId: honest.nodeId, url: honest.url, score: 1 },
    ]);
    const events: SessionEvent[] = [];
    session.on((e) => events.push(e));
    try {
      const base = `/live/${net.streamId}`;
      const playlist = parseMediaPlaylist((await session.load(`${base}/index.m3u8`)).value.data as string);
      const [a, b] = playlist.segments.slice(-2);
      if (!a || !b) throw new Error("playlist too short");
      await session.load(`${base}/${a.mapUri}`);
      const first = await session.load(`${base}/${a.uri}`);
      expect(first.node.nodeId).toBe(liarId); // served honestly: the signature is now cached

      const second = await session.load(`${base}/${b.uri}`);
      expect(liar.counts.forged).toBe(1);
      expect(second.node.nodeId).toBe(honest.nodeId); // failed over
      const honestBytes = Buffer.from(await (await fetch(`${honest.url}${base}/${b.uri}`)).arrayBuffer());
      expect(Buffer.from(second.value.data as ArrayBuffer).equals(honestBytes)).toBe(true);
      const rejected = events.filter((e) => e.type === "rejected");
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({ nodeId: liarId });
      expect((rejected[0] as { reason: string }).reason).toMatch(/tampered: attestation signature/);

      // Receipts: the liar is owed the init and the honest segment, not a byte of the forgery.
      const initBytes = (await (await fetch(`${honest.url}${base}/${a.mapUri}`)).arrayBuffer()).byteLength;
      const aBytes = (await (await fetch(`${honest.url}${base}/${a.uri}`)).arrayBuffer()).byteLength;
      const totals = session.receiptTotals();
      expect(totals[liarId]).toBe(initBytes + aBytes);
      expect(totals[honest.nodeId]).toBe(honestBytes.length);
    } finally {
      await session.close();
    }
  }, 60_000);
});

describe("attack: a relay lies about the live window (issue 10, finding 9)", () => {
  let live: LiveTestNetwork;
  beforeAll(async () => {
    live = await startLiveTestNetwork("attack-playlist", { probeIntervalMs: 0 });
  }, 60_000);
  afterAll(() => live?.stop());

  async function sessionWith(liarUrl: string) {
    const honest = live.net.relays[2];
    if (!honest) throw new Error("no pulling relay");
    const session = await ViewerSession.open({
      coordinatorUrl: live.net.coordinator.url,
      streamId: live.net.streamId,
      receiptIntervalMs: 3_600_000,
      nodesRefreshMs: 3_600_000,
    });
    const liarId = "0x000000000000000000000000000000000000beef";
    session.pool.replace([
      { nodeId: liarId, url: liarUrl, score: 1e9 },
      { nodeId: honest.nodeId, url: honest.url, score: 1 },
    ]);
    return { session, honest, liarId };
  }

  it("an ENDLIST without the streamer's signed end is refused; the player moves to an honest relay", async () => {
    const liar = playlistLiar(live.net.relays[2]?.url ?? "", "endlist");
    await liar.start();
    const { session, honest } = await sessionWith(liar.url);
    try {
      const r = await session.load(`/live/${live.net.streamId}/index.m3u8`);
      expect(r.node.nodeId).toBe(honest.nodeId);
      expect(r.failures[0]?.kind).toBe("tampered");
      expect(String(r.value.data)).not.toContain("#EXT-X-ENDLIST");
    } finally {
      await session.close();
      await liar.stop();
    }
  });

  it("a playlist frozen with 200s is a node failure after three target durations", {
    timeout: 30_000,
  }, async () => {
    const liar = playlistLiar(live.net.relays[2]?.url ?? "", "freeze");
    await liar.start();
    const { session, honest, liarId } = await sessionWith(liar.url);
    try {
      const path = `/live/${live.net.streamId}/index.m3u8`;
      const first = await session.load(path);
      expect(first.node.nodeId).toBe(liarId); // fresh the first time
      const target = parseMediaPlaylist(String(first.value.data)).targetDurationS;
      const startedAt = Date.now();
      let served = liarId;
      while (served === liarId && Date.now() - startedAt < 20_000) {
        await new Promise((r) => setTimeout(r, 500));
        served = (await session.load(path)).node.nodeId;
      }
      expect(served).toBe(honest.nodeId);
      expect(Date.now() - startedAt).toBeLessThan(3 * target * 1000 + 1_000); // 3 target durations + a poll
    } finally {
      await session.close();
      await liar.stop();
    }
  });
});
