import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import { parseMediaPlaylist } from "@streamrp2p/protocol";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats } from "../support/browser.ts";
import {
  type ServiceProcess,
  startCoordinatorProcess,
  startOriginProcess,
  startRelayProcess,
} from "../support/processes.ts";
import { freePort, requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 11, finding 1 (the outage half): the origin restarted its sequence and
 * init version at 0 in every new process, so after a restart relays kept
 * serving the old live edge until the new numbering passed it (and an old
 * delivery signature could be paired with a new attestation for the same seq).
 * Now the broadcast position is reserved on disk before anything is signed.
 * Every party is its own process; the origin dies by kill -9.
 */
const STREAM = "demo";

async function playlistOf(url: string) {
  try {
    const res = await fetch(`${url}/live/${STREAM}/index.m3u8`, { signal: AbortSignal.timeout(1_000) });
    return res.status === 200 ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

describe("origin killed with kill -9 mid-stream and restarted", () => {
  const procs: ServiceProcess[] = [];
  const relays: ServiceProcess[] = [];
  let coordinator: ServiceProcess;
  let origin: ServiceProcess | undefined;
  let source: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let dir: string;
  let rtmpPort: number;

  async function startOrigin(): Promise<ServiceProcess> {
    const o = await startOriginProcess(coordinator.url, STREAM, join(dir, "origin"), rtmpPort);
    const key = readFileSync(join(dir, "origin", `${STREAM}.stream-key`), "utf8").trim();
    source = startTestSource({ url: `${o.url}/${key}`, keyframeSeconds: 1 });
    return o;
  }

  beforeAll(async () => {
    requireFfmpeg();
    dir = tempDir("origin-restart");
    rtmpPort = await freePort();
    coordinator = await startCoordinatorProcess(dir);
    procs.push(coordinator);
    for (const [name, ingest] of [
      ["ingest-a", true],
      ["ingest-b", true],
      ["puller", false],
    ] as const) {
      const r = await startRelayProcess(name, coordinator.url, dir, {
        ingest,
        args: ["--heartbeat-interval-ms", "500"],
      });
      procs.push(r);
      relays.push(r);
    }
    origin = await startOrigin();
    const puller = relays[2] as ServiceProcess;
    await waitUntil(
      "the pulling relay to be live",
      async () => {
        const text = await playlistOf(puller.url);
        return text && parseMediaPlaylist(text).segments.length >= 3 ? true : undefined;
      },
      30_000,
    );
    browser = await launchChromium();
    page = await openWatchPage(browser, `${coordinator.url}/watch/${STREAM}`);
  }, 90_000);

  afterAll(async () => {
    source?.kill("SIGKILL");
    await browser?.close();
    await origin?.stop();
    await Promise.all(procs.map((p) => p.stop()));
  });

  it("every relay serves the new broadcast (new init, discontinuity) within 5 s of the first new keyframe, and the viewer resumes without a reload", async () => {
    const before = await waitUntil(
      "5 s of playback",
      async () => {
        const s = await pageStats(page);
        return s.currentTime >= 5 ? s : undefined;
      },
      30_000,
      250,
    );
    await page.evaluate(() => {
      (window as unknown as { __notReloaded: boolean }).__notReloaded = true;
    });
    const oldLists = await Promise.all(
      relays.map(async (r) => parseMediaPlaylist((await playlistOf(r.url)) ?? "")),
    );
    const oldEdge = Math.max(...oldLists.map((p) => p.segments.at(-1)?.mediaSequence ?? -1));
    const oldInit = oldLists[0]?.segments.at(-1)?.mapUri;
    const oldDisc = Math.max(...oldLists.map((p) => p.discontinuitySequence));
    expect(oldEdge).toBeGreaterThan(2);

    // kill -9: no end marker, nothing flushed, the publisher's connection drops.
    process.kill((origin as ServiceProcess).pid, "SIGKILL");
    source?.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 2_000));
    origin = await startOrigin(); // the publisher reconnects to the new process
    const reconnectedAt = Date.now();

    const servedAt: Record<string, number> = {};
    await waitUntil(
      "every relay to serve the new broadcast",
      async () => {
        await Promise.all(
          relays.map(async (r) => {
            if (servedAt[r.name] !== undefined) return;
            const text = await playlistOf(r.url);
            if (!text) return;
            const p = parseMediaPlaylist(text);
            const last = p.segments.at(-1);
            // The new broadcast is a discontinuity: marked before its first segment, or counted in
            // EXT-X-DISCONTINUITY-SEQUENCE once the old broadcast's segments are no longer listed.
            const discontinuous =
              p.segments.some((s) => s.discontinuity) || p.discontinuitySequence > oldDisc;
            if (last && last.mapUri !== oldInit && last.mediaSequence > oldEdge && discontinuous)
              servedAt[r.name] = Date.now() - reconnectedAt;
          }),
        );
        return Object.keys(servedAt).length === relays.length ? true : undefined;
      },
      20_000,
      100,
    );
    process.stdout.write(
      `[origin-restart] new broadcast served after reconnect (ms): ${JSON.stringify(servedAt)}\n`,
    );
    for (const [name, ms] of Object.entries(servedAt)) expect(ms, name).toBeLessThan(5_000);

    const resumedFrom = (await pageStats(page)).currentTime;
    const after = await waitUntil(
      "playback to resume past the restart",
      async () => {
        const s = await pageStats(page);
        return s.currentTime >= Math.max(resumedFrom, before.currentTime) + 5 ? s : undefined;
      },
      30_000,
      250,
    );
    expect(after.fatalErrors).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(
      true,
    );
  }, 90_000);
});
