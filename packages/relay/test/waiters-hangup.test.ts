import { request } from "node:http";
import type { Relay } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { putPart, signedPartedSegment } from "../../../test/support/ll-fixtures.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();
const CAP = 40;

/**
 * Review finding (LL-HLS, F1): a blocked request kept its place among the
 * stream's bounded waiters after its client hung up, so one client looping
 * connect-block-close filled the set and every honest blocking reload, hinted
 * part and child relay's long poll got 503 for the whole wait.
 */
describe("attack: clients that block and hang up, in a loop", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function relayWithTwoSegments(): Promise<Relay> {
    const relay = await startStaticRelay({ demo: streamer.address }, { maxWaitersPerStream: CAP });
    cleanup.push(() => relay.stop());
    expect(
      (await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 0, 500))).status,
    ).toBe(201);
    for (let seq = 0; seq < 2; seq++) {
      const { parts, segment } = await signedPartedSegment(streamer, "demo", seq, 4);
      for (const p of parts) expect((await putPart(relay.url, "demo", p)).status).toBe(201);
      expect((await putObject(relay.url, "demo", segment)).status).toBe(201);
    }
    return relay;
  }

  /** Sends a GET and drops the connection once the relay has had time to park it. */
  function blockAndHangUp(relay: Relay, path: string): Promise<void> {
    const url = new URL(`${relay.url}${path}`);
    return new Promise((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        agent: false,
      });
      req.on("error", () => {});
      req.on("socket", (s) =>
        s.on("connect", () =>
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 20),
        ),
      );
      req.end();
    });
  }

  it("each hang-up gives its place back at once: blocking reloads, hinted parts, window long polls, segment waits", async () => {
    const relay = await relayWithTwoSegments();
    const stream = relay.stream("demo");
    const paths = [
      "/live/demo/index.m3u8?_HLS_msn=3",
      "/live/demo/part-2.1.m4s",
      "/live/demo/window.json?after=1&wait=1",
      "/live/demo/seg-2.m4s",
    ];
    for (let i = 0; i < 2 * CAP; i++) await blockAndHangUp(relay, paths[i % paths.length] as string);
    await waitUntil(
      "every hung-up waiter released",
      () => (stream?.waiters === 0 ? true : undefined),
      3_000,
      20,
    );
    // An honest blocking reload now parks (it would be 503 UNAVAILABLE with the set full) and is answered.
    const honest = fetch(`${relay.url}/live/demo/index.m3u8?_HLS_msn=2`);
    await waitUntil(
      "the honest reload parked",
      () => ((stream?.waiters ?? 0) > 0 ? true : undefined),
      3_000,
      10,
    );
    const { parts, segment } = await signedPartedSegment(streamer, "demo", 2, 4);
    for (const p of parts) await putPart(relay.url, "demo", p);
    await putObject(relay.url, "demo", segment);
    expect((await honest).status).toBe(200);
  });
});
