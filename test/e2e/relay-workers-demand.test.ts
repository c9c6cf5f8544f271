import { type NodeInfo, SrpError } from "@streamrp2p/protocol";
import { createRelay, type Relay, type UpstreamResolver } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../support/fixtures.ts";
import { waitUntil } from "../support/tools.ts";

/**
 * From the adversarial review of relay workers: the primary's teardown (StreamTable.drop) and a
 * viewer's demand (demand.touch / pullOnDemand in relay.ts's GET /live route)
 * must behave the same with workers as with one process.
 */
const streamer = newAccount();
const GRACE_MS = 10_000;

/** Workers report what viewers asked for every 100 ms: demand reaches the primary within this. */
const REPORT_SETTLE_MS = 400;

describe.each([1, 2])("relay with workers=%i", (workers) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function ingest(): Promise<Relay> {
    const relay = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => relay.stop());
    await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 0, 2000));
    for (let seq = 0; seq < 3; seq++)
      expect(
        (await putObject(relay.url, "demo", await signedObject(streamer, "demo", "segment", seq, 20_000)))
          .status,
      ).toBe(201);
    return relay;
  }

  async function edge(upstream: Relay, clock: { offset: number }): Promise<Relay> {
    const info: NodeInfo = { nodeId: upstream.nodeId as `0x${string}`, url: upstream.url, region: "local" };
    const resolver: UpstreamResolver = {
      async resolve(_id, exclude) {
        if (exclude.includes(info.nodeId)) throw new SrpError("NO_UPSTREAM", "none");
        return info;
      },
    };
    const relay = createRelay(
      { ingest: false, carryGraceMs: GRACE_MS, workers },
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

  const status = async (url: string) => {
    const r = await fetch(url);
    await r.arrayBuffer();
    return r.status;
  };

  it("a torn-down stream is gone from what the relay serves (404), not a frozen window", async () => {
    const up = await ingest();
    const clock = { offset: 0 };
    const relay = await edge(up, clock);
    relay.carry(["demo"]);
    await waitUntil("the stream pulled and served", async () =>
      (await status(`${relay.url}/live/demo/index.m3u8`)) === 200 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, REPORT_SETTLE_MS)); // the workers' last demand reports
    clock.offset += GRACE_MS + 1;
    relay.carry([]); // nothing wants it any more: torn down
    expect(relay.stream("demo")).toBeUndefined();
    // Single process: 404 at once. Workers: still 200, the last window, forever.
    await new Promise((r) => setTimeout(r, 500));
    // (One request only: in one process, this very request starts a pull on demand again.)
    expect(await status(`${relay.url}/live/demo/seg-2.m4s`)).toBe(404);
  }, 60_000);

  it("a viewer asking for a stream the relay does not hold starts a pull (pullOnDemand)", async () => {
    const up = await ingest();
    const relay = await edge(up, { offset: 0 });
    expect(await status(`${relay.url}/live/demo/index.m3u8`)).toBe(404);
    await waitUntil(
      "the stream pulled on demand",
      async () => ((await status(`${relay.url}/live/demo/index.m3u8`)) === 200 ? true : undefined),
      10_000,
    );
  }, 60_000);

  it("a viewer's requests keep a carried stream from being torn down (demand.touch)", async () => {
    const up = await ingest();
    const clock = { offset: 0 };
    const relay = await edge(up, clock);
    relay.carry(["demo"]);
    await waitUntil("the stream pulled and served", async () =>
      (await status(`${relay.url}/live/demo/index.m3u8`)) === 200 ? true : undefined,
    );
    clock.offset += GRACE_MS - 1_000;
    expect(await status(`${relay.url}/live/demo/index.m3u8`)).toBe(200); // a viewer watches
    await new Promise((r) => setTimeout(r, REPORT_SETTLE_MS)); // workers report demand every 100 ms
    clock.offset += 2_000; // past the grace since carry(), within it since the viewer's request
    relay.carry([]);
    expect(relay.stream("demo")).toBeDefined();
  }, 60_000);
});
