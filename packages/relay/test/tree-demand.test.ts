import { type NodeInfo, SrpError, UPSTREAM_LAG_SEGMENTS } from "@streamrp2p/protocol";
import { createRelay, type Relay, type UpstreamResolver } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import {
  newAccount,
  putObject,
  type SignedObject,
  signedObject,
  startStaticRelay,
} from "../../../test/support/fixtures.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();
const GRACE_MS = 10_000;

const info = (relay: Relay): NodeInfo => ({
  nodeId: relay.nodeId as `0x${string}`,
  url: relay.url,
  region: "local",
});

/** Hands out upstreams in order, skipping excluded ones; records every request's exclusions. */
function orderedResolver(candidates: () => NodeInfo[]): UpstreamResolver & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async resolve(_streamId, exclude) {
      calls.push([...exclude]);
      const next = candidates().find((c) => !exclude.includes(c.nodeId));
      if (!next) throw new SrpError("NO_UPSTREAM", "none left");
      return next;
    },
  };
}

describe("relay tree: demand and lag", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function ingestWith(segments: number): Promise<Relay> {
    const relay = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => relay.stop());
    await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 0, 2000));
    for (let seq = 0; seq < segments; seq++) await push(relay, seq);
    return relay;
  }

  async function push(relay: Relay, seq: number): Promise<SignedObject> {
    const seg = await signedObject(streamer, "demo", "segment", seq, 20_000);
    expect((await putObject(relay.url, "demo", seg)).status).toBe(201);
    return seg;
  }

  /** A pulling relay with a clock the test moves (the demand grace is measured by it). */
  async function puller(resolver: UpstreamResolver, clock: { offset: number }): Promise<Relay> {
    const relay = createRelay(
      { ingest: false, carryGraceMs: GRACE_MS },
      {
        account: newAccount(),
        log: silentLogger,
        directory: { signerOf: async (id) => (id === "demo" ? streamer.address.toLowerCase() : undefined) },
        resolver,
        now: () => Date.now() + clock.offset,
      },
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    return relay;
  }

  const edge = (r: Relay) => r.stream("demo")?.liveEdgeSeq ?? -1;

  it("leaves an upstream that is alive but more than UPSTREAM_LAG_SEGMENTS behind the ledger's edge", async () => {
    const behind = await ingestWith(2);
    const ahead = await ingestWith(30);
    const resolver = orderedResolver(() => [info(behind), info(ahead)]);
    const relay = await puller(resolver, { offset: 0 });
    relay.carry(["demo"]);
    await waitUntil("pulling from the relay behind", () => (edge(relay) === 1 ? true : undefined));
    expect(relay.stream("demo")?.source).toBe(behind.nodeId);
    // The relay behind stays alive and advancing (never stale) for 7.5 s, 3+ segments behind: without
    // the lag rule nothing would move it in that time.
    const advancing = (async () => {
      for (let seq = 2; seq <= 26 && relay.stream("demo")?.source === behind.nodeId; seq++) {
        await push(behind, seq);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    const ledger = [{ streamId: "demo", liveEdgeSeq: 29 }];
    // Within the allowed lag nothing moves, however often it is seen.
    for (let i = 0; i < 3; i++)
      relay.carry(["demo"], [{ streamId: "demo", liveEdgeSeq: 1 + UPSTREAM_LAG_SEGMENTS }]);
    // One look past it can race a re-parent: the relay waits for a second.
    relay.carry(["demo"], ledger);
    expect(resolver.calls).toEqual([[]]);
    relay.carry(["demo"], ledger);
    await waitUntil(
      "re-parented to the relay at the edge, caught up",
      () => (relay.stream("demo")?.source === ahead.nodeId && edge(relay) === 29 ? true : undefined),
      6_000,
    );
    await advancing;
    expect(resolver.calls).toEqual([[], [behind.nodeId]]);
  });

  it("tears a stream down only after the grace with neither carry request nor viewer; a viewer's request starts it again", async () => {
    const upstream = await ingestWith(3);
    const clock = { offset: 0 };
    const relay = await puller(
      orderedResolver(() => [info(upstream)]),
      clock,
    );
    relay.carry(["demo"]);
    await waitUntil("pulling", () => (edge(relay) === 2 ? true : undefined));

    // No longer in the carry list, but a viewer watches: it stays through the grace.
    clock.offset += GRACE_MS / 2;
    expect((await fetch(`${relay.url}/live/demo/index.m3u8`)).status).toBe(200);
    clock.offset += GRACE_MS / 2 + 1;
    relay.carry([]);
    expect(edge(relay)).toBe(2);

    // A whole grace without anyone: gone, its window with it.
    clock.offset += GRACE_MS;
    relay.carry([]);
    expect(relay.stream("demo")).toBeUndefined();
    await push(upstream, 3);
    expect((await fetch(`${relay.url}/live/demo/index.m3u8`)).status).toBe(404); // asked, not held yet

    // That request started the pull again: the next one is served.
    await waitUntil("pulling again on demand", () => (edge(relay) === 3 ? true : undefined));
    expect((await fetch(`${relay.url}/live/demo/index.m3u8`)).status).toBe(200);
    // An id the coordinator does not know starts nothing.
    expect((await fetch(`${relay.url}/live/nobody/index.m3u8`)).status).toBe(404);
    await new Promise((r) => setTimeout(r, 100));
    expect(relay.stream("nobody")).toBeUndefined();
  });
});
