import type { LocalNetworkOptions } from "@streamrp2p/cli";
import type { Relay } from "@streamrp2p/relay";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats, screenshot } from "../support/browser.ts";
import { flipSegmentByte } from "../support/fixtures.ts";
import { startLiveTestNetwork } from "../support/live-network.ts";
import { waitUntil } from "../support/tools.ts";

/** A network with a live test source, a browser, and the watch page open. */
async function watch(name: string, extra: Partial<LocalNetworkOptions> = {}) {
  // The page opens once the pulling relay holds the stream, as a viewer arriving at a live show would.
  const live = await startLiveTestNetwork(name, extra);
  const net = live.net;
  const browser: Browser = await launchChromium();
  const page: Page = await openWatchPage(browser, `${net.coordinator.url}/watch/${net.streamId}`);
  const stop = async () => {
    await browser.close();
    await live.stop();
  };
  return { net, page, stop };
}

async function playedAtLeast(page: Page, seconds: number, timeoutMs = 30_000) {
  return waitUntil(
    `${seconds} s of playback`,
    async () => {
      const s = await pageStats(page);
      return s.currentTime >= seconds ? s : undefined;
    },
    timeoutMs,
    250,
  );
}

describe("player in Debian chromium: playback and receipts", () => {
  let ctx: Awaited<ReturnType<typeof watch>>;
  beforeAll(async () => {
    ctx = await watch("browser-play");
  }, 60_000);
  afterAll(() => ctx?.stop());

  it("plays >= 10 s with every segment verified and no fatal error", async () => {
    const start = (await pageStats(ctx.page)).currentTime;
    const s = await playedAtLeast(ctx.page, start + 10);
    await screenshot(ctx.page, "player-playback");
    expect(s.status).toBe("playing");
    expect(s.fatalErrors).toEqual([]);
    expect(s.stats?.verifiedSegments).toBeGreaterThanOrEqual(8);
    expect(s.stats?.rejectedSegments).toBe(0);
    // The page shows what it verifies and which node serves it.
    expect(await ctx.page.textContent("#node")).toBe(s.stats?.currentNode);
    expect(Number(await ctx.page.textContent("#verified"))).toBeGreaterThan(0);
    expect(await ctx.page.textContent("#badge")).toBe("LIVE");
  }, 60_000);

  it("leaves the serving relay a valid cumulative receipt equal to what the page received (±1 segment)", async () => {
    await playedAtLeast(ctx.page, 20, 40_000);
    const s = await pageStats(ctx.page);
    const nodeId = s.stats?.currentNode as string;
    const relay = ctx.net.relays.find((r) => r.nodeId === nodeId) as Relay;
    await ctx.page.evaluate(() =>
      (
        window as unknown as { __srp: { session: { flushReceipts(): Promise<void> } } }
      ).__srp.session.flushReceipts(),
    );
    const after = await pageStats(ctx.page);
    const pageBytes = after.stats?.receiptTotals[nodeId] ?? 0;
    const held = relay.receipts.get(after.stats?.sessionId as string);
    expect(held).toBeDefined();
    expect(held?.receipt.nodeId).toBe(nodeId);
    const maxSegment = Math.max(
      ...relay
        .stream(ctx.net.streamId)!
        .window()
        .segments.map((x) => x.attestation.byteLength),
    );
    expect(Math.abs((held?.receipt.bytes ?? 0) - pageBytes)).toBeLessThanOrEqual(maxSegment);
    expect(held?.receipt.bytes).toBeGreaterThan(1_000_000);
    // The relay's own count of what it served this session agrees too.
    const served = relay.ledger.get(after.stats?.sessionId as string)?.bytes ?? 0;
    expect(Math.abs(served - (held?.receipt.bytes ?? 0))).toBeLessThanOrEqual(2 * maxSegment);
    // It is exposed for the coordinator.
    const listed = (await (await fetch(`${relay.url}/v1/receipts?streamId=${ctx.net.streamId}`)).json()) as {
      receipts: Array<{ receipt: { sessionId: string } }>;
    };
    expect(listed.receipts.map((r) => r.receipt.sessionId)).toContain(after.stats?.sessionId);
  }, 60_000);
});

describe("player in Debian chromium: failover", () => {
  let ctx: Awaited<ReturnType<typeof watch>>;
  beforeAll(async () => {
    ctx = await watch("browser-failover");
  }, 60_000);
  afterAll(() => ctx?.stop());

  it("keeps playing when the serving relay dies, reports the switch, and never stalls for 1 s", async () => {
    const before = await playedAtLeast(ctx.page, 5);
    const serving = ctx.net.relays.find((r) => r.nodeId === before.stats?.currentNode) as Relay;
    expect(serving).toBeDefined();
    const stallsBefore = before.stalls.length;
    const killedAt = before.currentTime;
    await serving.stop();
    const after = await playedAtLeast(ctx.page, killedAt + 8);
    await screenshot(ctx.page, "player-failover");
    expect(after.stats?.switches).toBeGreaterThanOrEqual(1);
    expect(after.stats?.currentNode).not.toBe(serving.nodeId);
    expect(await ctx.page.textContent("#node")).toBe(after.stats?.currentNode);
    const stallsDuringFailover = after.stalls.slice(stallsBefore);
    expect(Math.max(0, ...stallsDuringFailover)).toBeLessThan(1_000);
    expect(after.stats?.rejectedSegments).toBe(0);
  }, 60_000);
});

describe("player in Debian chromium: a tampering relay", () => {
  let ctx: Awaited<ReturnType<typeof watch>>;
  beforeAll(async () => {
    // The pulling relay (ranked first for viewers) flips a byte in every media segment it serves.
    // The prober is off here: it would catch the liar first and the coordinator would stop routing to it.
    ctx = await watch("browser-tamper", {
      relayServedBytes: [undefined, undefined, flipSegmentByte],
      probeIntervalMs: 0,
    });
  }, 60_000);
  afterAll(() => ctx?.stop());

  it("rejects every corrupted segment, switches node, keeps playing, and the coordinator holds the proof", async () => {
    const liar = ctx.net.relays[2] as Relay;
    const s = await playedAtLeast(ctx.page, 8);
    await screenshot(ctx.page, "player-tamper");
    expect(s.stats?.rejectedSegments).toBeGreaterThanOrEqual(1);
    expect(s.stats?.currentNode).not.toBe(liar.nodeId);
    expect(s.stats?.failures).toBeGreaterThanOrEqual(1);
    // Of the liar's bytes only the (intact) init segment was accepted, so only it is receipted.
    const initBytes = liar.stream(ctx.net.streamId)?.getInit(0)?.byteLength;
    expect(s.stats?.receiptTotals[liar.nodeId] ?? 0).toBeLessThanOrEqual(initBytes ?? 0);
    expect(s.fatalErrors).toEqual([]);
    const evidence = await waitUntil("evidence at the coordinator", async () => {
      const res = await fetch(`${ctx.net.coordinator.url}/v1/nodes/${liar.nodeId}/evidence`);
      const body = (await res.json()) as {
        evidence: Array<{ proven: boolean; servedSha256: string; attestedSha256: string }>;
      };
      return body.evidence.length > 0 ? body.evidence : undefined;
    });
    expect(evidence[0]?.proven).toBe(true); // the relay's own signature over the bad hash
    expect(evidence[0]?.servedSha256).not.toBe(evidence[0]?.attestedSha256);
  }, 60_000);
});
