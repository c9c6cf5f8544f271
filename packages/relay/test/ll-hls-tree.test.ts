import { type NodeInfo, parseLowLatency, SrpError } from "@streamrp2p/protocol";
import type { Relay, UpstreamResolver } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { FlakyProxy } from "../../../test/support/flaky-proxy.ts";
import { putPart, signedPartedSegment } from "../../../test/support/ll-fixtures.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();
const PARTS = 4;
const CLIENTS = 500;

function fixedResolver(url: string, n: number): UpstreamResolver {
  const node: NodeInfo = {
    nodeId: `0x${String(n).padStart(40, "0")}` as `0x${string}`,
    url,
    region: "local",
  };
  return {
    async resolve(_streamId, exclude) {
      if (exclude.includes(node.nodeId)) throw new SrpError("NO_UPSTREAM", "none left");
      return node;
    },
  };
}

/**
 * LL-HLS through a chain of relays: ingest A (the origin pushes) → B → C,
 * each hop pulling through a counting proxy. Parts reach every hop as they
 * are produced (the window long poll wakes on each), and however many
 * viewers block on the next part at C, each hop asks its upstream once.
 */
describe("LL-HLS through relay hops", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function chain() {
    const a = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => a.stop());
    await putObject(a.url, "demo", await signedObject(streamer, "demo", "init", 0, 500));
    const proxyA = new FlakyProxy(a.url);
    await proxyA.start();
    cleanup.push(() => proxyA.stop());
    const b = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false },
      fixedResolver(proxyA.url, 1),
    );
    cleanup.push(() => b.stop());
    const proxyB = new FlakyProxy(b.url);
    await proxyB.start();
    cleanup.push(() => proxyB.stop());
    const c = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false },
      fixedResolver(proxyB.url, 2),
    );
    cleanup.push(() => c.stop());
    return { a, b, c, proxyA, proxyB };
  }

  async function pushSegment(a: Relay, seq: number, parts = PARTS) {
    const cut = await signedPartedSegment(streamer, "demo", seq, parts);
    for (const p of cut.parts) expect((await putPart(a.url, "demo", p)).status).toBe(201);
    expect((await putObject(a.url, "demo", cut.segment)).status).toBe(201);
    return cut;
  }

  it("every hop serves LL playlists and parts; 500 viewers blocked on the next part cost one upstream request per hop", async () => {
    const { a, b, c, proxyA, proxyB } = await chain();
    for (let seq = 0; seq < 2; seq++) await pushSegment(a, seq);
    b.carry(["demo"]);
    c.carry(["demo"]);
    await waitUntil(
      "C holds segment 1 with its parts",
      () => c.stream("demo")?.listedParts(1).length === PARTS || undefined,
    );
    const hint = parseLowLatency(
      await (await fetch(`${c.url}/live/demo/index.m3u8?ll=1`)).text(),
    ).preloadHint;
    expect(hint).toBe("part-2.0.m4s");

    // 500 viewers: half block on the hinted part, half on the playlist that will list it.
    const viewers = Array.from({ length: CLIENTS }, (_, i) =>
      i % 2 === 0
        ? fetch(`${c.url}/live/demo/${hint}`).then(async (r) => ({
            status: r.status,
            body: Buffer.from(await r.arrayBuffer()),
          }))
        : fetch(`${c.url}/live/demo/index.m3u8?_HLS_msn=2&_HLS_part=0`).then(async (r) => ({
            status: r.status,
            body: Buffer.from(await r.text()),
          })),
    );
    await waitUntil(
      "every viewer blocked at C",
      () => (c.stream("demo")?.waiters ?? 0) >= CLIENTS || undefined,
    );
    const cut = await signedPartedSegment(streamer, "demo", 2, PARTS);
    expect((await putPart(a.url, "demo", cut.parts[0] as never)).status).toBe(201);
    const answers = await Promise.all(viewers);
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(200);
      if (i % 2 === 0) expect(r.body.equals(cut.parts[0]?.bytes as Buffer)).toBe(true);
      else expect(parseLowLatency(r.body.toString()).parts.map((p) => p.uri)).toContain("part-2.0.m4s");
    }
    // Exactly one request for the part at each hop's upstream.
    expect(proxyB.requests.get("part-2.0.m4s")).toBe(1);
    expect(proxyA.requests.get("part-2.0.m4s")).toBe(1);
  });

  it("viewers blocked on a part when the upstream goes away get a 503 in 3 target durations, not a hang", async () => {
    const { a, b, proxyA } = await chain();
    for (let seq = 0; seq < 2; seq++) await pushSegment(a, seq);
    b.carry(["demo"]);
    await waitUntil("B holds segment 1", () => b.stream("demo")?.getSegment(1)?.isComplete || undefined);
    const blocked = Array.from({ length: 20 }, (_, i) =>
      fetch(
        i % 2 ? `${b.url}/live/demo/part-2.0.m4s` : `${b.url}/live/demo/index.m3u8?_HLS_msn=2&_HLS_part=0`,
      ),
    );
    await waitUntil("viewers blocked at B", () => (b.stream("demo")?.waiters ?? 0) >= 20 || undefined);
    await proxyA.stop(); // B's upstream is gone
    const answers = await Promise.all(blocked);
    for (const r of answers) {
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("RELOAD_TIMEOUT");
    }
    // B still answers: its window, and a playlist without directives.
    expect((await fetch(`${b.url}/live/demo/index.m3u8`)).status).toBe(200);
    expect(b.stream("demo")?.waiters).toBe(0);
  });

  it("a pulled segment whose parts all arrived is assembled from them, not fetched again", async () => {
    const { a, b, proxyA } = await chain();
    await pushSegment(a, 0);
    b.carry(["demo"]);
    await waitUntil("B holds segment 0", () => b.stream("demo")?.getSegment(0)?.isComplete || undefined);
    const cut = await pushSegment(a, 1);
    await waitUntil("B holds segment 1", () => b.stream("demo")?.getSegment(1)?.isComplete || undefined);
    expect(b.stream("demo")?.getSegment(1)?.bytes?.equals(cut.segment.bytes)).toBe(true);
    for (let i = 0; i < PARTS; i++) expect(proxyA.requests.get(`part-1.${i}.m4s`)).toBe(1);
    expect(proxyA.requests.get("seg-1.m4s") ?? 0).toBe(0);
    const res = await fetch(`${b.url}/live/demo/seg-1.m4s`);
    expect(Buffer.from(await res.arrayBuffer()).equals(cut.segment.bytes)).toBe(true);
  });

  it("a tampered part from the upstream is refused downstream and the relay moves away from it", async () => {
    const { a, b, proxyA } = await chain();
    await pushSegment(a, 0);
    proxyA.misbehave("part-1.1.m4s", { kind: "tamper" });
    b.carry(["demo"]);
    await waitUntil("B holds segment 0", () => b.stream("demo")?.getSegment(0)?.isComplete || undefined);
    const cut = await pushSegment(a, 1);
    await waitUntil("B counted the tampering", async () => {
      const failures = (await b.metrics.upstreamFailures.get()).values[0]?.value ?? 0;
      return failures > 0 || undefined;
    });
    // The bad part is never served: B lacks it (404) or refetched the true bytes.
    const res = await fetch(`${b.url}/live/demo/part-1.1.m4s`);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) expect(body.equals(cut.parts[1]?.bytes as Buffer)).toBe(true);
    else expect(res.status).toBe(404);
    // The segment is not assembled over the gap: it comes whole, and true.
    await waitUntil("B holds segment 1", () => b.stream("demo")?.getSegment(1)?.isComplete || undefined);
    expect(b.stream("demo")?.getSegment(1)?.bytes?.equals(cut.segment.bytes)).toBe(true);
  });
});
