import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import { parseMediaPlaylist } from "@streamrp2p/protocol";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats } from "../support/browser.ts";
import { type ServiceProcess, startCli } from "../support/processes.ts";
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
const URL_RE = /serving at (http:\/\/[0-9.:]+)/;

interface NodeView {
  nodeId: string;
  url: string;
  ingest: boolean;
  load: Array<{ streamId: string; upstream: string | null; liveEdgeSeq: number }>;
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

describe("attack: one ingest relay frozen with SIGSTOP mid-stream", () => {
  const procs: ServiceProcess[] = [];
  let coordinator: ServiceProcess;
  let source: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let frozen: ServiceProcess | undefined;

  beforeAll(async () => {
    requireFfmpeg();
    const dir = tempDir("frozen-ingest");
    coordinator = await startCli(
      "coordinator",
      ["coordinator", "--port", "0", "--data-dir", join(dir, "coordinator")],
      /coordinator at (http:\/\/[0-9.:]+)/,
    );
    procs.push(coordinator);
    const relayArgs = (name: string, ingest: boolean) => [
      "relay",
      "--coordinator",
      coordinator.url,
      "--port",
      "0",
      ...(ingest ? ["--ingest"] : []),
      "--data-dir",
      join(dir, name),
      "--heartbeat-interval-ms",
      "500",
      "--log-level",
      "warn",
    ];
    for (const name of ["ingest-a", "ingest-b", "ingest-c"]) {
      procs.push(await startCli(name, relayArgs(name, true), URL_RE));
    }
    procs.push(await startCli("puller", relayArgs("puller", false), URL_RE));
    const keyDir = join(dir, "origin");
    const origin = await startCli(
      "origin",
      [
        "origin",
        "--coordinator",
        coordinator.url,
        "--stream",
        STREAM,
        "--rtmp-port",
        "0",
        "--http-port",
        "0",
        "--key-dir",
        keyDir,
      ],
      /publish with OBS: server (rtmp:\/\/\S+) /,
    );
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

  it("every other relay's live edge keeps advancing, the origin replaces the relay, and the viewer never stalls 1 s", async () => {
    const playing = await waitUntil(
      "4 s of playback",
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
    // Freeze the ingest relay that feeds the viewer's relay.
    const serving = playing.stats?.currentNode;
    const all = await nodes();
    const servingNode = all.find((n) => n.nodeId === serving);
    const feeding =
      servingNode?.load.find((l) => l.streamId === STREAM)?.upstream ?? servingNode?.nodeId ?? "";
    const urlOf = new Map(all.map((n) => [n.nodeId, n.url]));
    frozen = procs.find((p) => p.url === urlOf.get(feeding));
    if (!frozen) throw new Error(`cannot find the process of ${feeding}`);
    const ingestBefore = await streamIngest();
    expect(ingestBefore).toContain(feeding);
    // Every other relay that carries the stream now (the unused ingest relay joins later, as the replacement).
    const relays = procs.filter((p) => p !== frozen && /^(ingest|puller)/.test(p.name));
    const carrying = await Promise.all(
      relays.map(async (p) => ((await liveEdge(p.url)) >= 0 ? p : undefined)),
    );
    const watched = carrying.filter((p): p is ServiceProcess => p !== undefined);
    expect(watched.length).toBeGreaterThanOrEqual(2);
    const stallsBefore = playing.stalls.length;
    process.kill(frozen.pid, "SIGSTOP");
    const frozenAt = Date.now();

    // Sample every watched relay's live edge for 12 s.
    const advances = new Map<string, number[]>(watched.map((p) => [p.name, [frozenAt]]));
    const edges = new Map<string, number>(
      await Promise.all(watched.map(async (p) => [p.name, await liveEdge(p.url)] as const)),
    );
    while (Date.now() - frozenAt < 12_000) {
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
    process.stdout.write(
      `[frozen-ingest] longest live-edge gap per relay after SIGSTOP (ms): ${JSON.stringify(gaps)}\n`,
    );
    // A segment arrives every SEGMENT_MS: an edge that never waits more than twice that is at most one segment late.
    for (const [name, gap] of Object.entries(gaps)) expect(gap, name).toBeLessThan(2 * SEGMENT_MS);

    const ingestAfter = await streamIngest();
    expect(ingestAfter).not.toContain(feeding); // the origin reported it and the coordinator replaced it
    expect(ingestAfter.length).toBe(2);

    const after = await pageStats(page);
    expect(after.currentTime).toBeGreaterThan(playing.currentTime + 8);
    const stalls = after.stalls.slice(stallsBefore);
    process.stdout.write(`[frozen-ingest] viewer stalls after SIGSTOP (ms): ${JSON.stringify(stalls)}\n`);
    expect(Math.max(0, ...stalls)).toBeLessThan(1_000);
    expect(after.fatalErrors).toEqual([]);
  }, 90_000);
});
