import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_SEED } from "../support/fuzz.ts";
import {
  type FuzzStats,
  generateRequests,
  runRequests,
  type ServiceKind,
  signedPool,
} from "../support/http-fuzz.ts";
import { type ProcessNetwork, rssKiB, startProcessNetwork } from "../support/processes.ts";

const REQUESTS = { relay: 1_500, coordinator: 1_500, origin: 200 } as const;
const CONCURRENCY = 16; // connections in flight
const CLIENT_TIMEOUT_MS = 3_000; // a long-poll may hold a request this long; no answer is not a failure
/** RSS growth a process may show over the run (V8 heap growth and JIT, not a leak per request). */
const RSS_GROWTH_LIMIT_KIB = 150 * 1024;

describe("HTTP fuzz of relay, coordinator and origin processes (issue 10)", () => {
  let net: ProcessNetwork;
  beforeAll(async () => {
    net = await startProcessNetwork("http-fuzz");
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  it(`${REQUESTS.relay + REQUESTS.coordinator + REQUESTS.origin} random requests to every route: no 5xx, every process alive and healthy, RSS bounded`, async () => {
    const key = readFileSync(join(net.keyDir, `${net.streamId}.signing.key`), "utf8").trim() as Hex;
    const nodes = (await (await fetch(`${net.coordinator.url}/v1/nodes`)).json()) as {
      nodes: { nodeId: string }[];
    };
    const ctx = {
      streamId: net.streamId,
      nodeIds: nodes.nodes.map((n) => n.nodeId),
      signed: await signedPool(privateKeyToAccount(key), net.streamId, 20),
    };
    const urls: Record<ServiceKind, string> = {
      relay: net.relay.url,
      coordinator: net.coordinator.url,
      origin: net.origin.url,
    };
    const requests = (Object.keys(REQUESTS) as ServiceKind[]).flatMap((s, i) =>
      generateRequests(s, urls[s], ctx, FUZZ_SEED + i, REQUESTS[s]),
    );
    // Interleave services so every process is under load at once.
    requests.sort((a, b) => (a.raw.length % 7) - (b.raw.length % 7));

    const baseline = Object.fromEntries(net.all().map((p) => [p.name, rssKiB(p.pid)]));
    const peak = { ...baseline };
    const sampler = setInterval(() => {
      for (const p of net.all()) if (!p.exited) peak[p.name] = Math.max(peak[p.name] ?? 0, rssKiB(p.pid));
    }, 250);
    const stats: FuzzStats = { requests: 0, byStatus: {}, byCode: {}, failures: [], slowestMs: 0 };
    const started = Date.now();
    try {
      await runRequests((s) => urls[s], requests, CONCURRENCY, CLIENT_TIMEOUT_MS, stats);
    } finally {
      clearInterval(sampler);
    }
    const report = {
      seconds: (Date.now() - started) / 1000,
      requests: stats.requests,
      byStatus: stats.byStatus,
      byCode: stats.byCode,
      slowestMs: Math.round(stats.slowestMs),
      rssKiB: Object.fromEntries(
        net.all().map((p) => [p.name, { baseline: baseline[p.name], peak: peak[p.name] }]),
      ),
    };
    process.stdout.write(`http fuzz: ${JSON.stringify(report)}\n`);

    expect(stats.requests).toBe(requests.length);
    expect(
      stats.failures,
      `5xx answers (seed ${FUZZ_SEED}):\n${stats.failures.map((f) => JSON.stringify(f)).join("\n")}`,
    ).toEqual([]);
    // The mix reached the handlers: most answers are 2xx/4xx from our code, not the parser's 400.
    expect(Object.keys(stats.byStatus).length).toBeGreaterThan(4);
    await new Promise((r) => setTimeout(r, 300)); // an uncaught exception would exit in this time
    for (const p of net.all()) {
      expect(p.exited, `${p.name} died:\n${p.output()}`).toBeUndefined();
      const health = await fetch(`${p.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      expect(health.status, p.name).toBe(200);
      expect((peak[p.name] ?? 0) - (baseline[p.name] ?? 0), `${p.name} RSS growth (KiB)`).toBeLessThan(
        RSS_GROWTH_LIMIT_KIB,
      );
    }
  }, 120_000);
});
