import { parseLadderSpec } from "@streamrp2p/protocol";
import type { Browser, CDPSession, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats } from "../support/browser.ts";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { waitUntil } from "../support/tools.ts";

/**
 * Issue 15 acceptance: the page plays a stream with a ladder (a 320x240
 * source at ~1.1 Mbit/s, rungs of 180 and 120 lines below it); throttled
 * bandwidth (the DevTools protocol's network emulation, which applies to the
 * page's fetches, the loader's included) makes hls.js step down the ladder
 * with no stall over 1 s, and step back up once the bandwidth returns.
 * Every rung's segments are verified all along.
 */
const LADDER = parseLadderSpec("source,180p:180:300:48,120p:120:120:32");
const MAX_STALL_MS = 1_000;

async function videoHeight(page: Page): Promise<number> {
  return page.evaluate(() => (document.querySelector("video") as HTMLVideoElement).videoHeight);
}

describe("player in Debian chromium: adaptive bitrate under throttled bandwidth", () => {
  let live: LiveTestNetwork;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  /** Rungs whose segments the page fetched, in order of first use per phase. */
  const segmentRequests: string[] = [];
  const marks = { throttled: 0 };

  beforeAll(async () => {
    live = await startLiveTestNetwork("browser-abr", { ladder: LADDER }, true, {
      width: 320,
      height: 240,
      fps: 15,
    });
    const pulling = live.net.relays[2];
    await waitUntil(
      "every rung on the pulling relay",
      () =>
        ["180p", "120p"].every(
          (r) => (pulling?.stream(live.net.streamId)?.rendition(r)?.liveEdgeSeq ?? -1) >= 2,
        )
          ? true
          : undefined,
      30_000,
    );
    browser = await launchChromium();
    page = await openWatchPage(browser, `${live.net.coordinator.url}/watch/${live.net.streamId}`, (p) =>
      p.on("request", (req) => {
        const m = /\/live\/[^/]+\/(?:([a-z0-9_-]+)\/)?seg-\d+\.m4s/.exec(req.url());
        if (m) segmentRequests.push(m[1] ?? "source");
      }),
    );
    cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  async function throttle(kbps: number | undefined): Promise<void> {
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: kbps === undefined ? 0 : 20,
      downloadThroughput: kbps === undefined ? -1 : (kbps * 1000) / 8,
      uploadThroughput: kbps === undefined ? -1 : (kbps * 1000) / 8,
    });
  }

  async function heightReaches(what: string, ok: (h: number) => boolean, timeoutMs: number): Promise<number> {
    return waitUntil(
      what,
      async () => {
        const h = await videoHeight(page);
        return ok(h) ? h : undefined;
      },
      timeoutMs,
      250,
    );
  }

  it("starts on the ladder, steps down when throttled without a stall over 1 s, and back up when not", async () => {
    // Unthrottled: hls.js measures the bandwidth and settles on the source (240 lines).
    await heightReaches("the source rung playing", (h) => h === 240, 45_000);
    const before = (await pageStats(page)).stalls.length;

    marks.throttled = segmentRequests.length;
    await throttle(450); // below the source (~1.1 Mbit/s), above the 180p rung (~0.35 Mbit/s)
    const down = await heightReaches("a lower rung playing", (h) => h > 0 && h < 240, 45_000);
    const throttled = await pageStats(page);
    const stallsDown = throttled.stalls.slice(before);
    expect(down).toBeLessThan(240);

    const throttledRungs = new Set(segmentRequests.slice(marks.throttled));
    await throttle(undefined);
    const unthrottledAt = segmentRequests.length;
    await heightReaches("the source rung again", (h) => h === 240, 60_000).catch(async (err: unknown) => {
      const abr = await page.evaluate(() => (window as unknown as { __srp: { abr(): unknown } }).__srp.abr());
      process.stdout.write(`ABR state when it did not step up: ${JSON.stringify(abr)}\n`);
      throw err;
    });
    const after = await pageStats(page);
    const stalls = after.stalls.slice(before);
    process.stdout.write(
      `ABR down to ${down} lines; stalls while switching: ${JSON.stringify(stalls.map(Math.round))} ms; rungs fetched: ${[...new Set(segmentRequests)].join(",")}\n`,
    );
    expect(stallsDown.every((ms) => ms <= MAX_STALL_MS)).toBe(true);
    expect(stalls.every((ms) => ms <= MAX_STALL_MS)).toBe(true);
    // Throttling applies to the loader's fetch(): the rungs below the source were fetched under it,
    // and the source again once it was lifted.
    expect([...throttledRungs].some((r) => r !== "source")).toBe(true);
    expect(segmentRequests.slice(unthrottledAt)).toContain("source");
    expect(after.fatalErrors).toEqual([]);
    expect(after.stats?.rejectedSegments).toBe(0);
    expect(after.stats?.verifiedSegments).toBeGreaterThan(10);
  }, 180_000);
});
