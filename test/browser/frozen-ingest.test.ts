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
import { requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 10, finding 10: the origin waited for every ingest relay before it
 * published the next segment, so one ingest relay frozen with SIGSTOP (it
 * accepts connections and never answers) froze the live edge on every relay.
 * Here every party is its own process; the frozen relay is the one feeding the
 * viewer's relay, the hardest case.
 */
const STREAM = "demo";
const SEGMENT_MS = 1_000; // the test source's keyframe interval: one segment

interface NodeView {
  nodeId: string;
  url: string;
  ingest: boolean;
  load: Array<{ streamId: string; upstream: string | null; liveEdgeSeq: number }>;
}

/** A structured log line's time (ms), or -1 for other output. */
function logTime(line: string): number {
  const t = /"t":"([^"]+)"/.exec(line)?.[1];
  return t ? Date.parse(t) : -1;
}

async function liveEdge(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/live/${STREAM}/index.m3u8`, { signal: AbortSignal.timeout(500) });
    if (res.status !== 200) return -1;
    const pl = parseMediaPlaylist(await res.text());
    return pl.segments.at(-1)?.mediaSequence ?? -1;
  } catch {
    return -1;
  }
}

describe("attack: the ingest relay feeding the viewer fails mid-stream: frozen, killed, stopped", () => {
  const procs: ServiceProcess[] = [];
  let coordinator: ServiceProcess;
  let source: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let frozen: ServiceProcess | undefined;

  beforeAll(async () => {
    requireFfmpeg();
    const dir = tempDir("frozen-ingest");
    coordinator = await startCoordinatorProcess(dir);
    procs.push(coordinator);
    // Info logs (upstream assignments and moves) so a failure below shows why a relay waited.
    const relayArgs = ["--heartbeat-interval-ms", "500", "--log-level", "info"];
    // Five ingest-capable relays: two in use, and a replacement for each of the three failures.
    for (const name of ["ingest-a", "ingest-b", "ingest-c", "ingest-d", "ingest-e"]) {
      procs.push(await startRelayProcess(name, coordinator.url, dir, { ingest: true, args: relayArgs }));
    }
    procs.push(await startRelayProcess("puller", coordinator.url, dir, { args: relayArgs }));
    const keyDir = join(dir, "origin");
    const origin = await startOriginProcess(coordinator.url, STREAM, keyDir);
    procs.push(origin);
    const key = readFileSync(join(keyDir, `${STREAM}.stream-key`), "utf8").trim();
    source = startTestSource({ url: `${origin.url}/${key}`, keyframeSeconds: SEGMENT_MS / 1000 });
    const puller = procs.find((p) => p.name === "puller") as ServiceProcess;
    await waitUntil(
      "the pulling relay to be live",
      async () => ((await liveEdge(puller.url)) >= 3 ? true : undefined),
      30_000,
    );
    browser = await launchChromium();
    page = await openWatchPage(browser, `${coordinator.url}/watch/${STREAM}`);
  }, 90_000);

  afterAll(async () => {
    if (frozen && !frozen.exited) process.kill(frozen.pid, "SIGCONT");
    source?.kill("SIGKILL");
    await browser?.close();
    await Promise.all(procs.map((p) => p.stop()));
  });

  type Failure = "SIGSTOP" | "SIGKILL" | "SIGTERM";

  /**
   * Fails the ingest relay that feeds the viewer's relay in one way, then
   * samples every other relay carrying the stream for 10 s.
   */
  async function failFeedingIngest(how: Failure) {
    const playing = await waitUntil(
      "playback",
      async () => {
        const s = await pageStats(page);
        return s.currentTime >= 4 ? s : undefined;
      },
      30_000,
      250,
    );
    const nodes = async () =>
      ((await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as { nodes: NodeView[] }).nodes;
    const streamIngest = async () =>
      (
        (await (await fetch(`${coordinator.url}/v1/streams/${STREAM}`)).json()) as {
          ingest: Array<{ nodeId: string }>;
        }
      ).ingest.map((n) => n.nodeId);
    const all = await nodes();
    const urlOf = new Map(all.map((n) => [n.nodeId, n.url]));
    const ingestBefore = await streamIngest();
    // The ingest relay feeding the viewer's relay (or, when the viewer is on an ingest relay, that one).
    const servingNode = all.find((n) => n.nodeId === playing.stats?.currentNode);
    const upstream = servingNode?.load.find((l) => l.streamId === STREAM)?.upstream;
    const feeding = upstream && ingestBefore.includes(upstream) ? upstream : (ingestBefore[0] ?? "");
    const victim = procs.find((p) => p.url === urlOf.get(feeding) && !p.exited);
    if (!victim) throw new Error(`cannot find the process of ${feeding}`);
    const relays = procs.filter(
      (p) => p !== victim && p !== frozen && !p.exited && /^(ingest|puller)/.test(p.name),
    );
    const carrying = await Promise.all(
      relays.map(async (p) => ((await liveEdge(p.url)) >= 0 ? p : undefined)),
    );
    const watched = carrying.filter((p): p is ServiceProcess => p !== undefined);
    expect(watched.length).toBeGreaterThanOrEqual(2);
    const stallsBefore = playing.stalls.length;
    await page.evaluate(() => {
      const w = window as unknown as {
        __srp: { session?: { on(l: (e: unknown) => void): void } };
        __events?: unknown[];
      };
      if (w.__events) return;
      w.__events = [];
      w.__srp.session?.on((e) => {
        const ev = e as { type: string };
        if (ev.type !== "verified") w.__events?.push({ at: Math.round(performance.now()), ...ev });
      });
    });
    process.kill(victim.pid, how);
    if (how === "SIGSTOP") frozen = victim;
    const failedAt = Date.now();

    const advances = new Map<string, number[]>(watched.map((p) => [p.name, [failedAt]]));
    const edges = new Map<string, number>(
      await Promise.all(watched.map(async (p) => [p.name, await liveEdge(p.url)] as const)),
    );
    while (Date.now() - failedAt < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      await Promise.all(
        watched.map(async (p) => {
          const e = await liveEdge(p.url);
          if (e > (edges.get(p.name) ?? -1)) {
            edges.set(p.name, e);
            advances.get(p.name)?.push(Date.now());
          }
        }),
      );
    }
    const gaps: Record<string, number> = {};
    for (const [name, times] of advances) {
      times.push(Date.now());
      gaps[name] = Math.max(...times.slice(1).map((t, i) => t - (times[i] as number)));
    }
    const after = await pageStats(page);
    const stalls = after.stalls.slice(stallsBefore);
    process.stdout.write(
      `[failed-ingest ${how}] ${victim.name} failed; longest live-edge gap per relay (ms): ${JSON.stringify(gaps)}; viewer stalls (ms): ${JSON.stringify(stalls)}; viewer on ${procs.find((p) => p.url === urlOf.get(playing.stats?.currentNode ?? ""))?.name} then ${procs.find((p) => p.url === urlOf.get(after.stats?.currentNode ?? ""))?.name}, failures ${playing.stats?.failures}→${after.stats?.failures}\n`,
    );
    // The player's failovers (not its verified loads), for the record when a stall happens.
    const events = await page.evaluate(() =>
      (window as unknown as { __events?: unknown[] }).__events?.splice(0),
    );
    const names = Object.fromEntries(all.map((n) => [n.nodeId, procs.find((p) => p.url === n.url)?.name]));
    process.stdout.write(
      `[failed-ingest ${how}] player events: ${JSON.stringify(events).replace(/0x[0-9a-f]{40}/g, (id) => names[id] ?? id)}\n`,
    );
    // Each relay's log since the failure, for the assertion messages.
    const logs = Object.fromEntries(
      procs.map((p) => [
        p.name,
        p
          .output()
          .split("\n")
          .filter((l) => logTime(l) >= failedAt - 1_000)
          .join("\n"),
      ]),
    );
    return { feeding, gaps, logs, ingestAfter: await streamIngest(), playing, after, stalls };
  }

  /** A segment arrives every SEGMENT_MS: an edge that never waits more than twice that is at most one segment late. */
  function expectNoStall(r: Awaited<ReturnType<typeof failFeedingIngest>>) {
    for (const [name, gap] of Object.entries(r.gaps))
      expect(gap, `${name} waited; its log since the failure:\n${r.logs[name]}`).toBeLessThan(2 * SEGMENT_MS);
    expect(r.ingestAfter).not.toContain(r.feeding); // the origin dropped it and the coordinator replaced it
    expect(r.ingestAfter.length).toBe(2);
    expect(r.after.currentTime).toBeGreaterThan(r.playing.currentTime + 7);
    expect(
      Math.max(0, ...r.stalls),
      `viewer stalled; relay logs:\n${JSON.stringify(r.logs, null, 1)}`,
    ).toBeLessThan(1_000);
    expect(r.after.fatalErrors).toEqual([]);
  }

  it("frozen (SIGSTOP: connections accepted, never answered): every other relay keeps advancing, the origin replaces it, the viewer never stalls 1 s", async () => {
    expectNoStall(await failFeedingIngest("SIGSTOP"));
  }, 60_000);

  it("killed (kill -9): the same", async () => {
    expectNoStall(await failFeedingIngest("SIGKILL"));
  }, 60_000);

  it("stopped cleanly (SIGTERM: drains): the same", async () => {
    expectNoStall(await failFeedingIngest("SIGTERM"));
  }, 60_000);
});
