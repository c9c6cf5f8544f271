import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats } from "../support/browser.ts";
import { freshDatabase, type PostgresServer, startPostgres } from "../support/postgres-server.ts";
import {
  type ServiceProcess,
  startCoordinatorProcess,
  startOriginProcess,
  startRelayProcess,
} from "../support/processes.ts";
import { requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 12: two coordinator processes share one PostgreSQL database (and the
 * ticket key, under one data dir); a relay, an
 * origin and a player in chromium are given both and keep working when the
 * first one stops cleanly, is killed, or freezes (SIGSTOP: it still accepts
 * connections and never answers). Each mode runs on its own processes.
 */

type Mode = "stop" | "kill" | "freeze";
interface NodeRow {
  nodeId: string;
  lastHeartbeatAt: number;
  load: Array<{ streamId: string; liveEdgeSeq: number }>;
}

// Generous bounds for a loaded 2-core machine; the client's cost of a frozen replica is one 3 s attempt per call.
const HEARTBEAT_BOUND_MS = 10_000;
const RECEIPTS_BOUND_MS = 15_000;
const TICKET_BOUND_MS = 12_000;
const NEW_INGEST_BOUND_MS = 25_000;

const getJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
};
const nodes = (coordinator: string) =>
  getJson<{ nodes: NodeRow[] }>(`${coordinator}/v1/nodes`).then((r) => r.nodes);
const nodeIdOf = (p: ServiceProcess) => {
  const id = /relay (0x[0-9a-fA-F]{40})/.exec(p.output())?.[1];
  if (!id) throw new Error(`${p.name} printed no node id:\n${p.output()}`);
  return id.toLowerCase();
};
const edgeOf = (row: NodeRow | undefined, streamId: string) =>
  row?.load.find((s) => s.streamId === streamId)?.liveEdgeSeq ?? -1;

async function fail(p: ServiceProcess, mode: Mode): Promise<void> {
  if (mode === "freeze") {
    process.kill(p.pid, "SIGSTOP");
    return;
  }
  const gone = new Promise<void>((resolve) => (p.exited ? resolve() : p.proc.once("exit", () => resolve())));
  process.kill(p.pid, mode === "stop" ? "SIGTERM" : "SIGKILL");
  await gone;
}

describe("clients fail over between coordinator replicas sharing one database", () => {
  let browser: Browser;
  let pg: PostgresServer;
  beforeAll(async () => {
    requireFfmpeg();
    pg = await startPostgres();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await pg?.stop();
  });

  for (const mode of ["stop", "kill", "freeze"] as const) {
    it(`when the first coordinator is ${mode === "stop" ? "stopped (SIGTERM)" : mode === "kill" ? "killed (kill -9)" : "frozen (SIGSTOP)"}: the relay heartbeats and submits receipts, the origin learns a new ingest relay, a player gets a ticket`, async () => {
      const dir = tempDir(`coordinator-failover-${mode}`);
      const procs: ServiceProcess[] = [];
      let source: ChildProcess | undefined;
      let page: Page | undefined;
      try {
        // B first, so A can name it as its replica for the watch page; both on dir/coordinator.
        const db = ["--postgres", await freshDatabase(pg.url, "failover")];
        const b = await startCoordinatorProcess(dir, db);
        procs.push(b);
        const a = await startCoordinatorProcess(dir, [...db, "--replica-urls", b.url]);
        procs.push(a);
        const both = `${a.url},${b.url}`;
        const fast = ["--heartbeat-interval-ms", "500", "--receipt-submit-interval-ms", "500"];
        const streamId = "failover";
        const keyDir = join(dir, "origin");
        const origin = await startOriginProcess(both, streamId, keyDir);
        procs.push(origin);
        const r1 = await startRelayProcess("relay-1", both, dir, { ingest: true, args: fast });
        procs.push(r1);
        const r1Id = nodeIdOf(r1);
        const streamKey = readFileSync(join(keyDir, `${streamId}.stream-key`), "utf8").trim();
        source = startTestSource({ url: `${origin.url}/${streamKey}` });
        await waitUntil(
          "the ingest relay to hold the stream",
          async () =>
            edgeOf(
              (await nodes(b.url)).find((n) => n.nodeId === r1Id),
              streamId,
            ) >= 2 || undefined,
          30_000,
          250,
        );

        // A viewer on A's watch page: the player is given [A, B].
        page = await openWatchPage(browser, `${a.url}/watch/${streamId}`);
        const watching = page;
        await waitUntil(
          "playback from A's watch page",
          async () => ((await pageStats(watching)).currentTime >= 2 ? true : undefined),
          30_000,
          250,
        );
        const statusAt = (c: string) =>
          getJson<{ receipts: { bytes: number } }>(`${c}/v1/nodes/${r1Id}/status`);

        await fail(a, mode);
        const failedAt = Date.now();

        // The relay: heartbeats reach B…
        await waitUntil(
          "a heartbeat after the failure",
          async () =>
            ((await nodes(b.url)).find((n) => n.nodeId === r1Id)?.lastHeartbeatAt ?? 0) > failedAt ||
            undefined,
          HEARTBEAT_BOUND_MS,
          100,
        );
        const heartbeatMs = Date.now() - failedAt;
        // …and so do receipts (the viewer keeps sending them to the relay, the relay to the coordinator).
        const before = (await statusAt(b.url)).receipts.bytes;
        await waitUntil(
          "receipts stored after the failure",
          async () => (await statusAt(b.url)).receipts.bytes > before || undefined,
          RECEIPTS_BOUND_MS,
          200,
        );
        const receiptsMs = Date.now() - failedAt;

        // The player: a new session (ticket, stream, node list) from the same list, A first.
        const ticketStarted = Date.now();
        await watching.evaluate(
          ({ b, streamId }) => {
            const w = window as unknown as {
              StreamrP2P: { attachPlayer(v: HTMLVideoElement, o: unknown): unknown };
              __second: unknown;
            };
            const video = document.createElement("video");
            video.muted = true;
            document.body.append(video);
            w.__second = w.StreamrP2P.attachPlayer(video, {
              coordinatorUrls: [location.origin, b],
              streamId,
              offlineRetryMs: 500,
            });
          },
          { b: b.url, streamId },
        );
        const second = await waitUntil(
          "the second player's ticket",
          () =>
            watching.evaluate(() => {
              const s = (
                window as unknown as {
                  __second: { session?: { ticket: { sessionId: string }; coordinatorUrl: string } };
                }
              ).__second.session;
              return s ? { sessionId: s.ticket.sessionId, coordinator: s.coordinatorUrl } : undefined;
            }),
          TICKET_BOUND_MS,
          100,
        );
        const ticketMs = Date.now() - ticketStarted;
        expect(second.coordinator).toBe(b.url);

        // The origin: a new ingest relay joins (registering through the list); the origin
        // hears of it from B on its next refresh and pushes the stream to it.
        const r2Started = Date.now();
        const r2 = await startRelayProcess("relay-2", both, dir, { ingest: true, args: fast });
        procs.push(r2);
        const r2Id = nodeIdOf(r2);
        await waitUntil(
          "the origin to push to the new ingest relay",
          async () =>
            edgeOf(
              (await nodes(b.url)).find((n) => n.nodeId === r2Id),
              streamId,
            ) >= 1 || undefined,
          NEW_INGEST_BOUND_MS,
          250,
        );
        const ingestMs = Date.now() - r2Started;

        // The first viewer never needed the coordinator to keep playing.
        const s = await pageStats(watching);
        expect(s.fatalErrors).toEqual([]);
        expect(s.stats?.rejectedSegments).toBe(0);
        process.stdout.write(
          `[failover ${mode}] heartbeat ${heartbeatMs} ms, receipts ${receiptsMs} ms, ticket ${ticketMs} ms, new ingest relay live ${ingestMs} ms\n`,
        );
        expect(heartbeatMs).toBeLessThan(HEARTBEAT_BOUND_MS);
        expect(receiptsMs).toBeLessThan(RECEIPTS_BOUND_MS);
        expect(ticketMs).toBeLessThan(TICKET_BOUND_MS);
        expect(ingestMs).toBeLessThan(NEW_INGEST_BOUND_MS);
      } finally {
        await page?.close();
        source?.kill("SIGKILL");
        for (const p of procs) {
          if (!p.exited) process.kill(p.pid, "SIGCONT");
          await p.stop();
        }
      }
    }, 120_000);
  }
});
