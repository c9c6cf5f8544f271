import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import {
  type Coordinator,
  createCoordinator,
  SegmentRecorder,
  SqliteStore,
  VIEWER_HEADERS,
} from "@streamrp2p/coordinator";
import { ViewerSession } from "@streamrp2p/player";
import { OFF_CHAIN_DOMAIN, signNodeRegistration, signStreamRegistration } from "@streamrp2p/protocol";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flipSegmentByte, newAccount, putObject, signedObject } from "../support/fixtures.ts";
import { RecordingProxy } from "../support/recording-proxy.ts";
import { tempDir } from "../support/tools.ts";

const streamer = newAccount();

describe("probes: indistinguishable from viewers, and what they find", () => {
  let coordinator: Coordinator;
  let store: SqliteStore;
  const relays: Record<"fresh" | "stale" | "liar", Relay> = {} as never;
  let proxy: RecordingProxy;

  beforeAll(async () => {
    const dir = join(tempDir("probes"), "db");
    store = new SqliteStore(dir);
    coordinator = createCoordinator(
      { port: 0, dataDir: dir, probeIntervalMs: 0, recordIntervalMs: 0 },
      { store, log: silentLogger },
    );
    await coordinator.start();
    const client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    const ticketKey = (await client.info()).ticketPublicKey;
    const objects = [await signedObject(streamer, "show", "init", 0, 900)];
    for (let seq = 0; seq < 12; seq++)
      objects.push(await signedObject(streamer, "show", "segment", seq, 60_000));
    for (const [name, upTo, corrupt] of [
      ["fresh", 12, false],
      ["stale", 5, false],
      ["liar", 12, true],
    ] as const) {
      const relay = createRelay(
        { port: 0, ingest: true },
        {
          ...(corrupt ? { servedBytes: flipSegmentByte } : {}),
          account: newAccount(),
          log: silentLogger,
          directory: { signerOf: async () => streamer.address.toLowerCase() },
          ticketPublicKey: async () => ticketKey,
        },
      );
      await relay.start();
      for (const o of objects.slice(0, upTo + 1))
        expect((await putObject(relay.url, "show", o)).status).toBe(201);
      relays[name] = relay;
    }
    // The ledger learns what the stream produced from an honest relay, verifying every attestation.
    expect(
      await new SegmentRecorder(store.accounting, OFF_CHAIN_DOMAIN).record([
        { streamId: "show", signer: streamer.address.toLowerCase(), urls: [relays.fresh.url] },
      ]),
    ).toBe(12);
    proxy = new RecordingProxy(relays.fresh.url);
    await proxy.start();
  });
  afterAll(async () => {
    await proxy?.stop();
    for (const r of Object.values(relays)) await r.stop();
    await coordinator?.stop();
  });

  it("asks a relay exactly what a viewer asks, with a browser's headers, and gets the same answers", async () => {
    const probe = await coordinator.accounting.probe(relays.fresh.nodeId, proxy.url, "show");
    expect(probe.ok).toBe(true);
    const probeRequests = proxy.log.splice(0);
    // A viewer (the player's own session code) loading the same kind of things through the same proxy.
    // (The coordinator only hands out registered nodes that heartbeat the stream: register one for the proxy.)
    const proxyNode = newAccount();
    const client = new CoordinatorClient({ baseUrl: coordinator.url });
    const reg = await signNodeRegistration(proxyNode, {
      url: proxy.url,
      region: "local",
      capacityMbps: 100,
      ingest: false,
      streams: [],
      issuedAt: Date.now(),
    });
    const { token } = await client.registerNode(reg);
    const nodeId = proxyNode.address.toLowerCase() as `0x${string}`;
    await client.heartbeat(token, {
      nodeId,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      streams: [{ streamId: "show", upstream: null, liveEdgeSeq: 11, viewers: 0 }],
    });
    const viewer = await ViewerSession.open({ coordinatorUrl: coordinator.url, streamId: "show" });
    viewer.pool.replace([{ nodeId: relays.fresh.nodeId, url: proxy.url, score: 1 }]);
    const segPath = probeRequests.find((r) => r.path.includes("seg-"))?.path.split("?")[0] as string;
    await viewer.load("/live/show/index.m3u8");
    await viewer.load("/live/show/init-0.mp4");
    await viewer.load(segPath);
    await viewer.close();
    const viewerRequests = proxy.log.splice(0);
    const shape = (rs: typeof probeRequests) =>
      rs.map((r) => r.path.replace(/session=[0-9a-f]{32}/, "session=S"));
    expect(shape(probeRequests)).toEqual(shape(viewerRequests));
    // The same bytes and headers come back for the same segment: one code path for both.
    const probeSeg = probeRequests.find((r) => r.path.startsWith(segPath));
    const viewerSeg = viewerRequests.find((r) => r.path.startsWith(segPath));
    expect(probeSeg?.body.equals(viewerSeg?.body ?? Buffer.alloc(0))).toBe(true);
    expect(probeSeg?.responseHeaders).toEqual(viewerSeg?.responseHeaders);
    // And the probe looks like a browser, not a script.
    for (const r of probeRequests) {
      expect(r.headers["user-agent"]).toBe(VIEWER_HEADERS["user-agent"]);
      expect(r.headers["sec-fetch-mode"]).toBe("cors");
      expect(r.headers.origin).toBe(coordinator.url);
    }
    // Like a viewer, the probe left a signed receipt with the relay.
    expect(relays.fresh.receipts.list("show", 1_000).length).toBeGreaterThanOrEqual(1);
  });

  it("scores a relay that serves stale segments lower on freshness", async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await coordinator.accounting.probe(relays.fresh.nodeId, relays.fresh.url, "show")).edgeLag,
      ).toBe(0);
      expect(
        (await coordinator.accounting.probe(relays.stale.nodeId, relays.stale.url, "show")).edgeLag,
      ).toBe(7); // it holds up to seq 4 of 11
    }
    const fresh = (await coordinator.accounting.score(relays.fresh.nodeId)).reputation;
    const stale = (await coordinator.accounting.score(relays.stale.nodeId)).reputation;
    expect(fresh.freshness).toBe(1);
    expect(stale.freshness).toBe(0);
    expect(stale.success).toBeGreaterThan(0.9); // every probe got verified bytes: it was just behind
    expect(stale.explain.join("\n")).toContain("freshness 0.000");
  });

  it("catches a tampering relay and stores the fraud proof; its quality drops to 0", async () => {
    const probe = await coordinator.accounting.probe(relays.liar.nodeId, relays.liar.url, "show");
    expect(probe.ok).toBe(false);
    expect(probe.error).toContain("differ from the attestation");
    const evidence = await store.listEvidence(relays.liar.nodeId);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]?.proven).toBe(true);
    expect(evidence[0]?.servedSha256).not.toBe(evidence[0]?.attestedSha256);
    const rep = (await coordinator.accounting.score(relays.liar.nodeId)).reputation;
    expect(rep.tampered).toBe(true);
    expect(rep.quality).toBe(0);
  });
});
