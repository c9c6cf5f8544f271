import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type LocalNetwork, startLocalNetwork, startTestSource } from "@streamrp2p/cli";
import {
  checkSegmentBytes,
  decodeAttestationHeader,
  OFF_CHAIN_DOMAIN,
  parseMediaPlaylist,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAll, probeCodecs, requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

/** Fetches one object and checks it against its attestation and the stream's signer. */
async function fetchVerified(url: string, signer: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const att = decodeAttestationHeader(res.headers.get("x-srp-attestation") ?? undefined);
  await verifySegmentAttestation(att, signer, OFF_CHAIN_DOMAIN);
  checkSegmentBytes(att, bytes);
  return bytes;
}

async function playlistOf(relay: Relay, streamId: string) {
  const res = await fetch(`${relay.url}/live/${streamId}/index.m3u8`);
  return res.status === 200 ? parseMediaPlaylist(await res.text()) : undefined;
}

describe("the live path: ffmpeg → RTMP → origin → 2 ingest relays → pulling relay → HLS", () => {
  let net: LocalNetwork;
  let source: ChildProcess;
  const dir = tempDir("e2e");
  const startedAt = Date.now();

  beforeAll(async () => {
    requireFfmpeg();
    net = await startLocalNetwork({
      dataDir: join(dir, "net"),
      coordinatorPort: 0,
      rtmpPort: 0,
      originHttpPort: 0,

      relayPorts: [0, 0, 0],
      logWrite: () => {},
    });
    source = startTestSource({ url: net.rtmpPublishUrl });
  });
  afterAll(async () => {
    source?.kill("SIGKILL");
    await net?.stop();
  });

  it("serves an advancing playlist from the pulling relay within 15 s", async () => {
    const downstream = net.relays[2] as Relay;
    const first = await waitUntil(
      "segments on the pulling relay",
      async () => {
        const p = await playlistOf(downstream, net.streamId);
        return p && p.segments.length >= 2 ? p : undefined;
      },
      15_000,
    );
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    const later = await waitUntil("the playlist to advance", async () => {
      const p = await playlistOf(downstream, net.streamId);
      return p && (p.segments.at(-1)?.mediaSequence ?? 0) > (first.segments.at(-1)?.mediaSequence ?? 0)
        ? p
        : undefined;
    });
    expect(later.ended).toBe(false);
    // The pulling relay feeds from an ingest relay, as the coordinator assigned.
    const ingestIds = net.relays.slice(0, 2).map((r) => r.nodeId);
    expect(ingestIds).toContain(downstream.stream(net.streamId)?.source);
  });

  it("delivers only segments whose hash and signature verify, and they decode as H.264 + AAC", async () => {
    const downstream = net.relays[2] as Relay;
    const info = await new CoordinatorClient({ baseUrl: net.coordinator.url }).getStream(net.streamId);
    expect(info.signer).toBe(net.signer);
    const playlist = (await playlistOf(downstream, net.streamId)) ?? expect.fail("no playlist");
    const base = `${downstream.url}/live/${net.streamId}`;
    const init = await fetchVerified(`${base}/${playlist.segments[0]?.mapUri}`, info.signer);
    for (const seg of playlist.segments) {
      const bytes = await fetchVerified(`${base}/${seg.uri}`, info.signer);
      const file = join(dir, `check-${seg.mediaSequence}.mp4`);
      writeFileSync(file, Buffer.concat([init, bytes]));
      expect(probeCodecs(file)).toEqual(["aac", "h264"]);
      decodeAll(file);
    }
  });

  it("ranks the pulling relay first for viewers", async () => {
    const ranked = await new CoordinatorClient({ baseUrl: net.coordinator.url }).rankedNodes(net.streamId);
    expect(ranked.nodes[0]?.nodeId).toBe(net.relays[2]?.nodeId);
  });

  it("exposes health and Prometheus metrics on every service", async () => {
    for (const url of [net.coordinator.url, net.origin.httpUrl, ...net.relays.map((r) => r.url)]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain("process_cpu_seconds_total");
    }
  });

  it("keeps going when an ingest relay dies: the origin pushes to the other, the pulling relay re-parents", async () => {
    const downstream = net.relays[2] as Relay;
    const victim = net.relays.find((r) => r.nodeId === downstream.stream(net.streamId)?.source) as Relay;
    const survivor = net.relays.slice(0, 2).find((r) => r !== victim) as Relay;
    await victim.stop();
    const edgeAtKill = downstream.stream(net.streamId)?.liveEdgeSeq ?? -1;
    await waitUntil(
      "re-parented to the surviving ingest relay",
      () => downstream.stream(net.streamId)?.source === survivor.nodeId || undefined,
      15_000,
    );
    const after = await waitUntil(
      "the pulling relay to advance past the failure",
      async () => {
        const p = await playlistOf(downstream, net.streamId);
        return p && (p.segments.at(-1)?.mediaSequence ?? -1) >= edgeAtKill + 3 ? p : undefined;
      },
      20_000,
    );
    // No gap: every sequence number in the window is there and verifies.
    const seqs = after.segments.map((s) => s.mediaSequence);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
    for (const seg of after.segments)
      await fetchVerified(`${downstream.url}/live/${net.streamId}/${seg.uri}`, net.signer);
  });
});
