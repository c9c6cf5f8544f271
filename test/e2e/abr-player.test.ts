import { type SessionEvent, ViewerSession } from "@streamrp2p/player";
import {
  checkMultivariantPlaylist,
  HEADER_ATTESTATION,
  parseLadderSpec,
  parseMediaPlaylist,
} from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { type Answer, LyingRelay } from "../support/lying-relay.ts";
import { waitUntil } from "../support/tools.ts";

const RUNG = "160p";

/**
 * The player over a stream with a ladder, against a relay that answers a
 * rung's segment with another rung's signed segment (the source's, same
 * seq: honest bytes, a valid signature, the wrong rendition), and lies in
 * the multivariant playlist.
 */
describe("player: every rung verified, a rung swapped for another refused (ABR)", () => {
  let live: LiveTestNetwork;
  let liar: LyingRelay;
  /** path → the answer the liar gives instead of the honest one. */
  const swaps = new Map<string, Answer>();

  beforeAll(async () => {
    live = await startLiveTestNetwork("abr-player", {
      probeIntervalMs: 0,
      ladder: parseLadderSpec(`source,${RUNG}:160:200:48`),
    });
    const honest = live.net.relays[2];
    await waitUntil(
      "the rung on the pulling relay",
      () => ((honest?.stream(live.net.streamId)?.rendition(RUNG)?.liveEdgeSeq ?? -1) >= 2 ? true : undefined),
      30_000,
    );
    liar = new LyingRelay(honest?.url ?? "", (path, answer) => swaps.get(path.split("?")[0] ?? "") ?? answer);
    await liar.start();
  }, 60_000);
  afterAll(async () => {
    await liar?.stop();
    await live?.stop();
  });

  it("loads the multivariant playlist and verifies the rung's init and segments", async () => {
    const { net } = live;
    const session = await ViewerSession.open({
      coordinatorUrl: net.coordinator.url,
      streamId: net.streamId,
      receiptIntervalMs: 3_600_000,
      nodesRefreshMs: 3_600_000,
    });
    const liarId = "0x000000000000000000000000000000000000dead";
    const honest = net.relays[2];
    if (!honest) throw new Error("no pulling relay");
    session.pool.replace([
      { nodeId: liarId, url: liar.url, score: 1e9 },
      { nodeId: honest.nodeId, url: honest.url, score: 1 },
    ]);
    const events: SessionEvent[] = [];
    session.on((e) => events.push(e));
    try {
      const base = `/live/${net.streamId}`;
      const master = checkMultivariantPlaylist(
        (await session.load(`${base}/master.m3u8`)).value.data as string,
      );
      expect(master.map((v) => v.uri)).toEqual(["index.m3u8", `${RUNG}/index.m3u8`]);
      const list = parseMediaPlaylist(
        (await session.load(`${base}/${RUNG}/index.m3u8`)).value.data as string,
      );
      const [a, b] = list.segments.slice(-2);
      if (!a || !b) throw new Error("rung playlist too short");
      await session.load(`${base}/${RUNG}/${a.mapUri}`);
      const first = await session.load(`${base}/${RUNG}/${a.uri}`);
      expect(first.node.nodeId).toBe(liarId); // honest so far

      // The attack: the rung's segment b answered with the source's segment b, signature and all.
      const src = await fetch(`${honest.url}${base}/${b.uri}`);
      swaps.set(`${base}/${RUNG}/${b.uri}`, {
        status: 200,
        headers: {
          "content-type": "video/iso.segment",
          [HEADER_ATTESTATION]: src.headers.get(HEADER_ATTESTATION) ?? "",
        },
        body: Buffer.from(await src.arrayBuffer()),
      });
      const second = await session.load(`${base}/${RUNG}/${b.uri}`);
      expect(second.node.nodeId).toBe(honest.nodeId); // failed over to the honest relay
      const rejected = events.filter((e) => e.type === "rejected");
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as { reason: string }).reason).toMatch(/tampered: .*attestation is for .*\/main\//);
      const honestBytes = Buffer.from(
        await (await fetch(`${honest.url}${base}/${RUNG}/${b.uri}`)).arrayBuffer(),
      );
      expect(Buffer.from(second.value.data as ArrayBuffer).equals(honestBytes)).toBe(true);
      // Receipts count the rung's bytes as served, and nothing for the swapped segment.
      const initBytes = (await (await fetch(`${honest.url}${base}/${RUNG}/${a.mapUri}`)).arrayBuffer())
        .byteLength;
      const aBytes = (await (await fetch(`${honest.url}${base}/${RUNG}/${a.uri}`)).arrayBuffer()).byteLength;
      const totals = session.receiptTotals();
      expect(totals[liarId]).toBe(initBytes + aBytes);
      expect(totals[honest.nodeId]).toBe(honestBytes.length);
    } finally {
      await session.close();
    }
  }, 60_000);
  it("refuses a multivariant playlist that sends the player outside the stream's rungs", async () => {
    const { net } = live;
    const honest = net.relays[2];
    if (!honest) throw new Error("no pulling relay");
    const base = `/live/${net.streamId}`;
    swaps.set(`${base}/master.m3u8`, {
      status: 200,
      headers: { "content-type": "application/vnd.apple.mpegurl" },
      body: Buffer.from("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../other/index.m3u8\n"),
    });
    const session = await ViewerSession.open({
      coordinatorUrl: net.coordinator.url,
      streamId: net.streamId,
      receiptIntervalMs: 3_600_000,
      nodesRefreshMs: 3_600_000,
    });
    session.pool.replace([
      { nodeId: "0x000000000000000000000000000000000000beef", url: liar.url, score: 1e9 },
      { nodeId: honest.nodeId, url: honest.url, score: 1 },
    ]);
    try {
      const got = await session.load(`${base}/master.m3u8`);
      expect(got.node.nodeId).toBe(honest.nodeId);
      expect(got.failures.map((f) => f.kind)).toEqual(["tampered"]);
      expect(checkMultivariantPlaylist(got.value.data as string).map((v) => v.uri)).toEqual([
        "index.m3u8",
        `${RUNG}/index.m3u8`,
      ]);
    } finally {
      await session.close();
    }
  }, 30_000);
});
