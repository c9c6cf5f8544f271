import { existsSync, mkdirSync } from "node:fs";
import type { SessionStats } from "@streamrp2p/player";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Debian's chromium, headless, with the flags this closed network needs (and `extraArgs`); fails loudly when missing. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium is required for browser tests and was not found at ${CHROMIUM}: run scripts/setup.sh chromium`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
      ...extraArgs,
    ],
  });
}

export interface PageStats {
  currentTime: number;
  status: string;
  stats: (SessionStats & { receiptTotals: Record<string, number> }) | null;
  fatalErrors: string[];
  stalls: number[];
}

/** Opens the watch page, records stalls (waiting → playing) and fatal errors in it, and returns once its player exists. */
export async function openWatchPage(
  browser: Browser,
  url: string,
  /** Called before the page loads (e.g. to record its requests from the first). */
  before?: (page: Page) => void,
): Promise<Page> {
  const page = await browser.newPage();
  before?.(page);
  await page.addInitScript(() => {
    const w = window as unknown as { __stalls: number[]; __waitingSince: number | null };
    w.__stalls = [];
    w.__waitingSince = null;
    document.addEventListener(
      "waiting",
      () => {
        w.__waitingSince ??= performance.now();
      },
      true,
    );
    document.addEventListener(
      "playing",
      () => {
        if (w.__waitingSince !== null) w.__stalls.push(performance.now() - w.__waitingSince);
        w.__waitingSince = null;
      },
      true,
    );
  });
  await page.goto(url);
  // The page publishes its player (`window.__srp`) only after its config request (GET
  // /v1/watch-config) answers, which may be after the load event on a busy machine: a test
  // reading the player at once found it undefined (ll-player failed so once in the full CI).
  await page.waitForFunction(() => "__srp" in window, undefined, { timeout: 15_000 });
  return page;
}

export async function pageStats(page: Page): Promise<PageStats> {
  return page.evaluate(() => {
    const w = window as unknown as {
      __srp: { status: string; stats(): unknown; fatalErrors: string[] };
      __stalls: number[];
      __waitingSince: number | null;
    };
    const video = document.querySelector("video") as HTMLVideoElement;
    const openStall = w.__waitingSince === null ? [] : [performance.now() - w.__waitingSince];
    return {
      currentTime: video.currentTime,
      status: w.__srp.status,
      stats: (w.__srp.stats() ?? null) as PageStats["stats"],
      fatalErrors: w.__srp.fatalErrors,
      stalls: [...w.__stalls, ...openStall],
    };
  });
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync("test-artifacts", { recursive: true });
  const path = `test-artifacts/${name}.png`;
  await page.screenshot({ path, fullPage });
  return path;
}
