import type { ChildProcess } from "node:child_process";
import type { LocalNetwork } from "@streamrp2p/cli";
import type { Relay } from "@streamrp2p/relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { waitUntil } from "../support/tools.ts";

const EPOCH_MS = 4_000;

interface EpochBody {
  epoch: number;
  endsAt: number;
  credits: Array<{
    nodeId: string;
    streamId: string;
    creditedBytes: number;
    quality: number;
    weight: number;
    flags: string[];
  }>;
  inputs: { receipts: unknown[]; reputations: Record<string, { quality: number }> };
}

describe("proof of restreaming on the live network", () => {
  let net: LocalNetwork;
  let source: ChildProcess;
  const startedAt = Date.now();

  beforeAll(async () => {
    ({ net, source } = await startLiveTestNetwork("por", {
      epochMs: EPOCH_MS,
      probeIntervalMs: 700,
      receiptSubmitIntervalMs: 1_000,
    }));
  }, 60_000);
  afterAll(async () => {
    source?.kill("SIGKILL");
    await net?.stop();
  });

  it("credits each node exactly the bytes it served to viewers (within one segment); probes earn nothing", async () => {
    const [ingest, , puller] = net.relays as [Relay, Relay, Relay];
    const viewers = [
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
      await SimulatedViewer.start(net.coordinator.url, net.streamId, ingest.nodeId),
    ];
    await new Promise((r) => setTimeout(r, 10_000));
    for (const v of viewers) await v.stop();
    expect(viewers.every((v) => v.loadedSegments >= 8)).toBe(true);
    const stoppedAt = Date.now();

    // Wait for an epoch that closed after the relays' last submission.
    const base = net.coordinator.url;
    const closedAfter = await waitUntil(
      "an epoch closed after the viewers stopped",
      async () => {
        const { lastClosed } = (await (await fetch(`${base}/v1/epochs`)).json()) as {
          lastClosed: number | null;
        };
        return lastClosed !== null && (lastClosed + 1) * EPOCH_MS >= stoppedAt + 2_500
          ? lastClosed
          : undefined;
      },
      20_000,
    );

    const credited = new Map<string, number>();
    const epochs: EpochBody[] = [];
    for (let n = Math.floor(startedAt / EPOCH_MS); n <= closedAfter; n++) {
      const res = await fetch(`${base}/v1/epochs/${n}`);
      if (res.status !== 200) continue;
      const body = (await res.json()) as EpochBody;
      epochs.push(body);
      for (const c of body.credits) credited.set(c.nodeId, (credited.get(c.nodeId) ?? 0) + c.creditedBytes);
    }
    expect(epochs.length).toBeGreaterThanOrEqual(2);

    const maxSegment = Math.max(
      ...puller
        .stream(net.streamId)!
        .window()
        .segments.map((s) => s.attestation.byteLength),
    );
    for (const relay of [ingest, puller]) {
      const served = viewers
        .map((v) => relay.ledger.get(v.session.ticket.sessionId)?.bytes ?? 0)
        .reduce((a, b) => a + b, 0);
      expect(served).toBeGreaterThan(500_000);
      const got = credited.get(relay.nodeId) ?? 0;
      expect(
        Math.abs(got - served),
        `node ${relay.nodeId}: credited ${got}, served ${served}`,
      ).toBeLessThanOrEqual(maxSegment);
    }
    // Probes ran against the nodes, but their sessions are never credited:
    // the ingest relay that nobody but v3 and probes watched is credited only v3's bytes (checked above).
    const score = (await (await fetch(`${base}/v1/nodes/${puller.nodeId}/score`)).json()) as {
      reputation: { probes: number; quality: number; explain: string[] };
    };
    expect(score.reputation.probes).toBeGreaterThan(0);
    expect(score.reputation.quality).toBeGreaterThan(0.5);
    expect(score.reputation.explain.length).toBeGreaterThan(3);
    // The epoch keeps its inputs: every receipt it used, and each node's reputation.
    const last = epochs.find((e) => e.credits.length > 0) as EpochBody;
    expect(last.inputs.receipts.length).toBeGreaterThan(0);
    for (const c of last.credits) expect(c.weight).toBeCloseTo(c.creditedBytes * c.quality, 0);
  }, 90_000);
});
