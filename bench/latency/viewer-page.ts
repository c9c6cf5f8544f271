import type { Browser, Page } from "playwright-core";
import type { ChainRelay } from "./chain.ts";
import { decodeTimeCode, TIME_CODE_LAYOUT } from "./time-code.ts";

/** What one page saw during a measuring window. */
export interface WindowReading {
  /** Glass-to-glass latency of every readable displayed frame, ms. */
  latencies: number[];
  /** Displayed frames whose time code did not read (sync or CRC mismatch). */
  unreadable: number;
  /** Stalls: waiting → playing intervals that began in the window (an open one counts to now), ms. */
  stalls: number[];
  /** Media files the player fetched in the window, by kind (from the session's verified loads). */
  loaded: { segments: number; parts: number };
  /** Nodes that served the player in the window (it is pinned to one: anything else is an error). */
  nodes: string[];
  fatalErrors: string[];
}

/**
 * The page's side, installed before anything else runs: a shim for the
 * `__name` helper tsx adds to named functions (this file's page callbacks are
 * serialised from tsx-compiled code), and stall recording the way the browser
 * tests define a stall (test/support/browser.ts): from `waiting` to `playing`.
 */
const INIT_SCRIPT = `
  globalThis.__name = globalThis.__name || ((f) => f);
  window.__g2g = { stalls: [], waitingSince: null };
  document.addEventListener("waiting", () => { window.__g2g.waitingSince ??= performance.now(); }, true);
  document.addEventListener("playing", () => {
    const g = window.__g2g;
    if (g.waitingSince !== null) g.stalls.push({ at: g.waitingSince, ms: performance.now() - g.waitingSince });
    g.waitingSince = null;
  }, true);
`;

interface G2gWindow {
  __g2g: {
    stalls: Array<{ at: number; ms: number }>;
    waitingSince: number | null;
    latencies: number[];
    unreadable: number;
    windowStart: number;
    loaded: { segments: number; parts: number };
    nodes: string[];
  };
  __player: { fatalErrors: string[] };
  StreamrP2P: { attachPlayer(video: HTMLVideoElement, options: unknown): unknown };
}

/**
 * Opens a page on the coordinator's origin, loads the product's player bundle
 * (/player/player.js, as the watch page does) and plays the stream pinned to
 * one relay: the coordinator's node lists are replaced, inside the page's
 * fetch, by that relay alone, so the viewer sits exactly `relay.pullHops`
 * pulling relays from the ingest relay. `lowLatency` is handed to the player
 * as its low-latency option (LL-HLS).
 */
export async function openPinnedViewer(
  browser: Browser,
  coordinatorUrl: string,
  streamId: string,
  relay: ChainRelay,
  lowLatency: boolean,
): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(INIT_SCRIPT);
  await page.goto(`${coordinatorUrl}/v1/watch-config`);
  await page.addScriptTag({ url: "/player/player.js" });
  await page.evaluate(
    ({ streamId, pinned, lowLatency, decodeSource, layout }) => {
      const w = window as unknown as G2gWindow;
      const g = w.__g2g;
      g.latencies = [];
      g.unreadable = 0;
      g.windowStart = performance.now();
      g.loaded = { segments: 0, parts: 0 };
      g.nodes = [];
      const decode = new Function(`return (${decodeSource})`)() as typeof decodeTimeCode;
      const realFetch = window.fetch.bind(window);
      // The coordinator's ranking replaced by the one relay under test (grant and refreshes).
      const pinnedFetch = async (input: RequestInfo | URL, init?: RequestInit) => {
        const res = await realFetch(input, init);
        const url = String(input instanceof Request ? input.url : input);
        if (!/\/v1\/streams\/[^/]+\/(sessions|nodes)(\?|$)/.test(url) || !res.ok) return res;
        const body = (await res.json()) as { nodes: unknown[] };
        body.nodes = [pinned];
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      };
      const video = document.createElement("video");
      video.muted = true;
      video.width = 640;
      document.body.append(video);
      const handle = w.StreamrP2P.attachPlayer(video, {
        coordinatorUrls: [location.origin],
        streamId,
        fetch: pinnedFetch,
        ...(lowLatency ? { lowLatency: true } : {}),
        onEvent: (e: { type: string; nodeId?: string; file?: string }) => {
          if (e.type !== "verified") return;
          if (e.nodeId && !g.nodes.includes(e.nodeId)) g.nodes.push(e.nodeId);
          if (/\/part-\d+\.\d+\.m4s$/.test(e.file ?? "")) g.loaded.parts += 1;
          else if (/\/seg-\d+\.m4s$/.test(e.file ?? "")) g.loaded.segments += 1;
        },
      }) as G2gWindow["__player"];
      w.__player = handle;
      const rows = layout.cell * layout.rows;
      const canvas = document.createElement("canvas");
      const ctx = canvas.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;
      const onFrame = (now: number, meta: VideoFrameCallbackMetadata) => {
        // The wall clock the frame is expected on screen: Date.now() and the frame's display
        // time are the same machine clock the source stamped with (all of it on 127.0.0.1).
        const shownAt = Date.now() + (meta.expectedDisplayTime - now);
        const width = meta.width;
        if (canvas.width !== width) canvas.width = width;
        canvas.height = rows;
        ctx.drawImage(video, 0, 0, width, rows, 0, 0, width, rows);
        const px = ctx.getImageData(0, 0, width, rows).data;
        const ms = decode((x, y) => {
          const i = (y * width + x) * 4;
          return ((px[i] ?? 0) * 299 + (px[i + 1] ?? 0) * 587 + (px[i + 2] ?? 0) * 114) / 1000;
        }, layout);
        if (ms === null) g.unreadable += 1;
        else if (g.latencies.length < 1_000_000) g.latencies.push(shownAt - ms);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    },
    {
      streamId,
      pinned: {
        nodeId: relay.nodeId,
        url: relay.url,
        region: relay.region,
        score: 1,
        reasons: ["g2g bench"],
      },
      lowLatency,
      decodeSource: decodeTimeCode.toString(),
      layout: TIME_CODE_LAYOUT,
    },
  );
  return page;
}

/** Seconds of media the page has played. */
export function playedSeconds(page: Page): Promise<number> {
  return page.evaluate(() => document.querySelector("video")?.currentTime ?? 0);
}

/** Starts a measuring window: what was seen so far (start-up) is dropped. */
export async function startWindow(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = (window as unknown as G2gWindow).__g2g;
    g.latencies = [];
    g.unreadable = 0;
    g.loaded = { segments: 0, parts: 0 };
    g.nodes = [];
    g.windowStart = performance.now();
  });
}

/** What the page saw since startWindow. */
export function readWindow(page: Page): Promise<WindowReading> {
  return page.evaluate(() => {
    const w = window as unknown as G2gWindow;
    const g = w.__g2g;
    const open =
      g.waitingSince === null ? [] : [{ at: g.waitingSince, ms: performance.now() - g.waitingSince }];
    return {
      latencies: g.latencies,
      unreadable: g.unreadable,
      stalls: [...g.stalls, ...open].filter((s) => s.at >= g.windowStart).map((s) => s.ms),
      loaded: g.loaded,
      nodes: g.nodes,
      fatalErrors: w.__player.fatalErrors,
    };
  });
}

/** The page's wall clock minus this process's, ms (the round trip bounds the error): both read one machine clock. */
export async function clockOffset(page: Page): Promise<{ offsetMs: number; roundTripMs: number }> {
  const before = Date.now();
  const pageNow = await page.evaluate(() => Date.now());
  const after = Date.now();
  return { offsetMs: pageNow - (before + after) / 2, roundTripMs: after - before };
}
