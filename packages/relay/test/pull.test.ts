import { type NodeInfo, SrpError } from "@streamrp2p/protocol";
import type { Relay, UpstreamResolver } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import {
  newAccount,
  postStreamEnd,
  putObject,
  type SignedObject,
  signedObject,
  startStaticRelay,
} from "../../../test/support/fixtures.ts";
import { FlakyProxy } from "../../../test/support/flaky-proxy.ts";
import { LyingRelay } from "../../../test/support/lying-relay.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();
const SEGMENT_BYTES = 400_000;

/** Resolves upstreams in order, skipping excluded ones, and records every call. */
function orderedResolver(candidates: NodeInfo[]): UpstreamResolver & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async resolve(_streamId, exclude) {
      calls.push([...exclude]);
      const next = candidates.find((c) => !exclude.includes(c.nodeId));
      if (!next) throw new SrpError("NO_UPSTREAM", "none left");
      return next;
    },
  };
}

const node = (url: string, n: number): NodeInfo => ({
  nodeId: `0x${String(n).padStart(40, "0")}` as `0x${string}`,
  url,
  region: "local",
});

describe("relay pulling from upstream relays", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{ origin: Relay; proxy: FlakyProxy; objects: SignedObject[] }> {
    const origin = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => origin.stop());
    const objects = [await signedObject(streamer, "demo", "init", 0, 2000)];
    await putObject(origin.url, "demo", objects[0] as SignedObject);
    const proxy = new FlakyProxy(origin.url);
    await proxy.start();
    cleanup.push(() => proxy.stop());
    return { origin, proxy, objects };
  }

  async function downstreamOf(resolver: UpstreamResolver): Promise<Relay> {
    const relay = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false, upstreamFailuresBeforeReparent: 2 },
      resolver,
    );
    cleanup.push(() => relay.stop());
    relay.carry(["demo"]);
    return relay;
  }

  async function push(origin: Relay, seq: number): Promise<SignedObject> {
    const seg = await signedObject(streamer, "demo", "segment", seq, SEGMENT_BYTES);
    expect((await putObject(origin.url, "demo", seg)).status).toBe(201);
    return seg;
  }

  /** GETs as soon as the downstream lists the segment, so the reader attaches while bytes are in flight. */
  async function getWhileInFlight(
    relay: Relay,
    seq: number,
  ): Promise<{ status: number; body: Promise<Buffer>; firstByteAt: Promise<number> }> {
    await waitUntil(
      `seg ${seq} announced`,
      () => relay.stream("demo")?.getSegment(seq) !== undefined || undefined,
      10_000,
      5,
    );
    const res = await fetch(`${relay.url}/live/demo/seg-${seq}.m4s`);
    let markFirst: (t: number) => void = () => {};
    const firstByteAt = new Promise<number>((r) => (markFirst = r));
    const body = (async () => {
      const parts: Buffer[] = [];
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (parts.length === 0) markFirst(Date.now());
        parts.push(Buffer.from(part));
      }
      return Buffer.concat(parts);
    })();
    return { status: res.status, body, firstByteAt };
  }

  it("serves one upstream fetch to many concurrent clients, forwarding bytes as they arrive", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "slow", pauseMs: 800 });
    const relay = await downstreamOf(orderedResolver([node(proxy.url, 1)]));
    const seg = await push(origin, 0);
    const first = await getWhileInFlight(relay, 0);
    const others = await Promise.all(
      Array.from({ length: 19 }, () => fetch(`${relay.url}/live/demo/seg-0.m4s`)),
    );
    const bodies = [
      await first.body,
      ...(await Promise.all(others.map(async (r) => Buffer.from(await r.arrayBuffer())))),
    ];
    for (const b of bodies) expect(b.equals(seg.bytes)).toBe(true);
    expect(proxy.requests.get("seg-0.m4s")).toBe(1); // request collapsing
    // Cut-through: the client had its first bytes before the upstream sent the second half.
    expect(await first.firstByteAt).toBeLessThan(proxy.secondHalfAt.get("seg-0.m4s") ?? 0);
  });

  it("serves an object whole to a client that comes after it completed, when the first client got it in flight", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "slow", pauseMs: 500 });
    const relay = await downstreamOf(orderedResolver([node(proxy.url, 1)]));
    const seg = await push(origin, 0);
    const first = await getWhileInFlight(relay, 0);
    expect((await first.body).equals(seg.bytes)).toBe(true);
    // The node signature was made while the object was in flight; later
    // responses must still end, or the next request on the same keep-alive
    // connection is never answered (it once hung here).
    for (let i = 0; i < 3; i++) {
      const late = await fetch(`${relay.url}/live/demo/seg-0.m4s`, { signal: AbortSignal.timeout(3_000) });
      expect(Buffer.from(await late.arrayBuffer()).equals(seg.bytes)).toBe(true);
    }
  });

  it("carries only the streams it supports: by stream id or by the streamer's address", async () => {
    const { origin } = await setup();
    await push(origin, 0);
    const upstream = orderedResolver([node(origin.url, 1)]);
    const start = async (streams: string[]) => {
      const relay = await startStaticRelay({ demo: streamer.address }, { ingest: false, streams }, upstream);
      cleanup.push(() => relay.stop());
      relay.carry(["demo"]);
      return relay;
    };
    const byStreamer = await start([streamer.address.toLowerCase()]);
    const byId = await start(["demo"]);
    const other = await start(["someone-else"]);
    await waitUntil("supporting relays to pull", () =>
      (byStreamer.stream("demo")?.liveEdgeSeq ?? -1) >= 0 && (byId.stream("demo")?.liveEdgeSeq ?? -1) >= 0
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(other.stream("demo")).toBeUndefined();
  });

  it("survives an upstream dying mid-segment: attached clients still get the whole segment, the relay re-parents", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "cut", afterBytes: 100_000, pauseMs: 300 });
    const resolver = orderedResolver([node(proxy.url, 1), node(origin.url, 2)]);
    const relay = await downstreamOf(resolver);
    const seg = await push(origin, 0);
    const client = await getWhileInFlight(relay, 0);
    expect(client.status).toBe(200);
    const body = await client.body;
    expect(body.length).toBe(seg.bytes.length);
    expect(body.equals(seg.bytes)).toBe(true);
    expect(resolver.calls.some((exclude) => exclude.includes(node(proxy.url, 1).nodeId))).toBe(true);
    expect(proxy.requests.get("seg-0.m4s")).toBe(2); // tried twice, then re-parented
    // The stream goes on from the new upstream.
    const next = await push(origin, 1);
    const later = await waitUntil(
      "seg 1 complete downstream",
      () => relay.stream("demo")?.getSegment(1)?.bytes,
    );
    expect(later.equals(next.bytes)).toBe(true);
  });

  it("never completes a 200 with tampered bytes: the reader is cut, the relay re-parents and serves the true bytes", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "tamper" });
    const relay = await downstreamOf(orderedResolver([node(proxy.url, 1), node(origin.url, 2)]));
    const seg = await push(origin, 0);
    const good = await waitUntil(
      "true bytes after re-parenting",
      () => relay.stream("demo")?.getSegment(0)?.bytes,
    );
    expect(good.equals(seg.bytes)).toBe(true);
    expect(relay.stream("demo")?.source).toBe(node(origin.url, 2).nodeId);
    const served = Buffer.from(await (await fetch(`${relay.url}/live/demo/seg-0.m4s`)).arrayBuffer());
    expect(served.equals(seg.bytes)).toBe(true);
  });

  it("cuts a client attached to an object that turns out tampered (no truncated or wrong 200)", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "tamper", pauseMs: 500 });
    const relay = await downstreamOf(orderedResolver([node(proxy.url, 1), node(origin.url, 2)]));
    const seg = await push(origin, 0);
    const client = await getWhileInFlight(relay, 0);
    expect(client.status).toBe(200); // headers went out before the last byte could be checked...
    await expect(client.body).rejects.toThrow(); // ...so the connection is cut instead of completing it
    const good = await waitUntil(
      "true bytes after re-parenting",
      () => relay.stream("demo")?.getSegment(0)?.bytes,
    );
    expect(good.equals(seg.bytes)).toBe(true);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/srp_relay_reparents_total\{service="relay"\} [1-9]/);
  });

  it("re-parents away from a dead upstream (connection refused)", async () => {
    const { origin } = await setup();
    const dead = node("http://127.0.0.1:1", 9);
    const resolver = orderedResolver([dead, node(origin.url, 2)]);
    const relay = await downstreamOf(resolver);
    const seg = await push(origin, 0);
    const got = await waitUntil(
      "segment via the live upstream",
      () => relay.stream("demo")?.getSegment(0)?.bytes,
    );
    expect(got.equals(seg.bytes)).toBe(true);
    expect(resolver.calls.at(-1)).toContain(dead.nodeId);
  });

  /** A relay that pulls the stream and also takes pushes (an ingest-capable relay carrying it). */
  async function pullingIngestRelay(resolver: UpstreamResolver): Promise<Relay> {
    const relay = await startStaticRelay({ demo: streamer.address }, { ingest: true }, resolver);
    cleanup.push(() => relay.stop());
    relay.carry(["demo"]);
    return relay;
  }

  /** Rejects when `p` has not settled in `ms`: a hung body fails the test rather than its timeout. */
  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([
      p,
      new Promise<never>((_r, reject) =>
        setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms),
      ),
    ]);

  it("finishes the segment in flight when the origin starts pushing the stream here (it pushes only newer ones)", async () => {
    const { origin, proxy, objects } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "slow", pauseMs: 800 });
    const relay = await pullingIngestRelay(orderedResolver([node(proxy.url, 1)]));
    const seg0 = await push(origin, 0);
    const client = await getWhileInFlight(relay, 0);
    // The origin takes the stream over from the next segment on (this relay became an ingest relay).
    const seg1 = await signedObject(streamer, "demo", "segment", 1, SEGMENT_BYTES);
    expect((await putObject(relay.url, "demo", objects[0] as SignedObject)).status).toBe(200);
    expect((await putObject(relay.url, "demo", seg1)).status).toBe(201);
    const body = await within(client.body, 5_000, "the half-arrived segment");
    expect(body.equals(seg0.bytes)).toBe(true);
    expect(relay.stream("demo")?.getSegment(0)?.bytes?.equals(seg0.bytes)).toBe(true);
  });

  it("a push of the segment being pulled completes it for the readers attached (no wait on the slow upstream)", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "slow", pauseMs: 10_000 });
    const relay = await pullingIngestRelay(orderedResolver([node(proxy.url, 1)]));
    const seg0 = await push(origin, 0);
    const client = await getWhileInFlight(relay, 0);
    await client.firstByteAt; // half of it is here; the rest would come in 10 s
    expect((await putObject(relay.url, "demo", seg0)).status).toBe(200);
    const body = await within(client.body, 2_000, "the pushed rest of the segment");
    expect(body.equals(seg0.bytes)).toBe(true);
  });

  it("a push for a half-arrived segment with other signed bytes is a conflict and the pulled object is untouched", async () => {
    const { origin, proxy } = await setup();
    proxy.misbehave("seg-0.m4s", { kind: "slow", pauseMs: 1_500 });
    const relay = await pullingIngestRelay(orderedResolver([node(proxy.url, 1)]));
    const seg0 = await push(origin, 0);
    const client = await getWhileInFlight(relay, 0);
    await client.firstByteAt;
    const other = await signedObject(streamer, "demo", "segment", 0, SEGMENT_BYTES);
    expect((await putObject(relay.url, "demo", other)).status).toBe(409);
    const body = await within(client.body, 5_000, "the pulled segment");
    expect(body.equals(seg0.bytes)).toBe(true);
  });

  it("carries the end of the stream downstream, with its signature checked", async () => {
    const { origin } = await setup();
    const relay = await downstreamOf(orderedResolver([node(origin.url, 2)]));
    const seg0 = await push(origin, 0);
    const { attestationDigest, OFF_CHAIN_DOMAIN, signStreamEnd } = await import("@streamrp2p/protocol");
    const end = await signStreamEnd(streamer, {
      streamId: "demo",
      lastSeq: 0,
      lastAttestation: attestationDigest(seg0.att, OFF_CHAIN_DOMAIN),
      producedAt: Date.now(),
    });
    const res = await postStreamEnd(origin.url, "demo", end);
    expect(res.status).toBe(200);
    const playlist = await waitUntil("ENDLIST downstream", async () => {
      const text = await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text();
      return text.includes("#EXT-X-ENDLIST") ? text : undefined;
    });
    expect(playlist).toContain("seg-0.m4s");
    const forged = await signStreamEnd(newAccount(), {
      streamId: "demo",
      lastSeq: 0,
      lastAttestation: attestationDigest(seg0.att, OFF_CHAIN_DOMAIN),
      producedAt: Date.now(),
    });
    const refused = await postStreamEnd(origin.url, "demo", forged);
    expect(refused.status).toBe(403);
  });

  it("leaves an upstream whose window relabels segments with an init it never listed (it would starve the child)", async () => {
    const { origin } = await setup();
    const liar = new LyingRelay(origin.url, (path, answer) => {
      if (!path.includes("window.json") || answer.status !== 200) return answer;
      const win = JSON.parse(answer.body.toString()) as { segments: Array<{ init: number }> };
      for (const seg of win.segments) seg.init = 424242;
      return { ...answer, body: Buffer.from(JSON.stringify(win)) };
    });
    await liar.start();
    cleanup.push(() => liar.stop());
    const resolver = orderedResolver([node(liar.url, 1), node(origin.url, 2)]);
    const child = await downstreamOf(resolver);
    for (let seq = 0; seq < 3; seq++) await push(origin, seq);
    await waitUntil(
      "the child to re-parent to the honest upstream",
      () => resolver.calls.length >= 2 || undefined,
      10_000,
    );
    expect(resolver.calls[1]).toContain(node(liar.url, 1).nodeId);
    await push(origin, 3);
    await waitUntil(
      "the child to list the segments with their real init",
      async () =>
        (await (await fetch(`${child.url}/live/demo/index.m3u8`)).text()).includes("seg-3.m4s") || undefined,
      10_000,
    );
    expect(child.stream("demo")?.hasInit(0)).toBe(true);
  });
});
