import type { Relay } from "@streamrp2p/relay";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats, screenshot } from "../support/browser.ts";
import { flipSegmentByte } from "../support/fixtures.ts";
import { startLiveTestNetwork } from "../support/live-network.ts";
import { waitUntil } from "../support/tools.ts";

/** hls.js in low-latency mode (the watch page's `?ll=1`) against our relays, every part verified. */
async function watchLowLatency(name: string, extra: Parameters<typeof startLiveTestNetwork>[1] = {}) {
  const live = await startLiveTestNetwork(name, extra);
  const browser: Browser = await launchChromium();
  const page: Page = await openWatchPage(
    browser,
    `${live.net.coordinator.url}/watch/${live.net.streamId}?ll=1`,
  );
  return {
    net: live.net,
    page,
    stop: async () => {
      await browser.close();
      await live.stop();
    },
  };
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

/** The page's requests: which used LL-HLS (blocking reloads, parts). */
function requestsOf(page: Page): Promise<string[]> {
  return page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
}

describe("LL-HLS in Debian chromium: hls.js low-latency mode through the verifying loader", () => {
  let ctx: Awaited<ReturnType<typeof watchLowLatency>>;
  beforeAll(async () => {
    ctx = await watchLowLatency("browser-ll");
  }, 60_000);
  afterAll(() => ctx?.stop());

  it("plays from parts fetched with blocking reloads and preload hints, each part verified", async () => {
    const start = (await pageStats(ctx.page)).currentTime;
    const s = await playedAtLeast(ctx.page, start + 8);
    await screenshot(ctx.page, "ll-player-playback");
    expect(s.fatalErrors).toEqual([]);
    expect(s.stats?.verifiedParts).toBeGreaterThanOrEqual(10);
    expect(s.stats?.rejectedParts).toBe(0);
    const urls = await requestsOf(ctx.page);
    expect(urls.some((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u))).toBe(true);
    expect(urls.some((u) => /\/part-\d+\.\d+\.m4s/.test(u))).toBe(true);
  }, 60_000);
});

describe("LL-HLS in Debian chromium: a relay tampering with parts", () => {
  let ctx: Awaited<ReturnType<typeof watchLowLatency>>;
  beforeAll(async () => {
    // The relay ranked first for viewers flips a byte in every segment and part it serves; no prober.
    ctx = await watchLowLatency("browser-ll-tamper", {
      relayServedBytes: [undefined, undefined, flipSegmentByte],
      probeIntervalMs: 0,
    });
  }, 60_000);
  afterAll(() => ctx?.stop());

  it("rejects the corrupted parts, fails over to an honest relay and keeps playing", async () => {
    const liar = ctx.net.relays[2] as Relay;
    const s = await playedAtLeast(ctx.page, 8);
    await screenshot(ctx.page, "ll-player-tamper");
    expect((s.stats?.rejectedParts ?? 0) + (s.stats?.rejectedSegments ?? 0)).toBeGreaterThanOrEqual(1);
    expect(s.stats?.verifiedParts).toBeGreaterThanOrEqual(1);
    expect(s.stats?.currentNode).not.toBe(liar.nodeId);
    expect(s.fatalErrors).toEqual([]);
    // Of the liar's bytes only the (intact) init segment was accepted, so only it is receipted.
    const initBytes = liar.stream(ctx.net.streamId)?.getInit(0)?.byteLength;
    expect(s.stats?.receiptTotals[liar.nodeId] ?? 0).toBeLessThanOrEqual(initBytes ?? 0);
  }, 60_000);
});
