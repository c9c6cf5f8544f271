import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseMediaPlaylist, parseMultivariantPlaylist } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import {
  newAccount,
  putObject,
  type SignedObject,
  signedObject,
  signedRungObject,
  startStaticRelay,
} from "../../../test/support/fixtures.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? `HTTP ${res.status}`;
}

describe("relay: an adaptive-bitrate ladder's renditions", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function ingest(): Promise<Relay> {
    const relay = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => relay.stop());
    return relay;
  }

  /** The source (100 kB segments) and a 360p rung (20 kB), segments 0..n-1, all under init 0. */
  async function pushLadder(relay: Relay, n: number): Promise<Map<string, SignedObject>> {
    const objects = new Map<string, SignedObject>();
    const all = [
      await signedObject(streamer, "demo", "init", 0, 2_000),
      await signedRungObject(streamer, "demo", "360p", "init", 0, 1_000),
    ];
    for (let seq = 0; seq < n; seq++) {
      all.push(await signedObject(streamer, "demo", "segment", seq, 100_000));
      all.push(await signedRungObject(streamer, "demo", "360p", "segment", seq, 20_000));
    }
    for (const o of all) {
      const res = await putObject(relay.url, "demo", o);
      expect(res.status, o.file).toBe(201);
      objects.set(o.file, o);
    }
    return objects;
  }

  it("holds each rung's window and serves its playlist, its objects and a multivariant playlist of all", async () => {
    const relay = await ingest();
    const objects = await pushLadder(relay, 3);
    const rungList = parseMediaPlaylist(await (await fetch(`${relay.url}/live/demo/360p/index.m3u8`)).text());
    expect(rungList.segments.map((s) => s.uri)).toEqual(["seg-0.m4s", "seg-1.m4s", "seg-2.m4s"]);
    expect(rungList.segments[0]?.mapUri).toBe("init-0.mp4");
    const seg = await fetch(`${relay.url}/live/demo/360p/seg-1.m4s`);
    expect(seg.status).toBe(200);
    expect(Buffer.from(await seg.arrayBuffer()).equals(objects.get("360p/seg-1.m4s")?.bytes as Buffer)).toBe(
      true,
    );
    const master = await fetch(`${relay.url}/live/demo/master.m3u8`);
    expect(master.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    const variants = parseMultivariantPlaylist(await master.text());
    // Bandwidths are the attested sizes over the attested durations: 100 kB and 20 kB a second.
    expect(variants.map((v) => [v.uri, v.bandwidth])).toEqual([
      ["index.m3u8", 800_000],
      ["360p/index.m3u8", 160_000],
    ]);
    const win = (await (await fetch(`${relay.url}/live/demo/window.json`)).json()) as {
      renditions?: string[];
    };
    expect(win.renditions).toEqual(["360p"]);
    expect((await fetch(`${relay.url}/live/demo/720p/index.m3u8`)).status).toBe(404);
  });

  it("attack: a segment signed for one rung is refused under another rung's path or the source's, and creates no state", async () => {
    const relay = await ingest();
    await pushLadder(relay, 1);
    const low = await signedRungObject(streamer, "demo", "360p", "segment", 1, 20_000);
    const main = await signedObject(streamer, "demo", "segment", 1, 20_000);
    const cases: Array<[SignedObject, string]> = [
      [low, "720p/seg-1.m4s"], // another rung
      [low, "seg-1.m4s"], // the source
      [main, "360p/seg-1.m4s"], // the source's segment as a rung's
    ];
    for (const [o, file] of cases) {
      const res = await putObject(relay.url, "demo", o, { file });
      expect(res.status, file).toBe(400);
      expect(await errorCode(res)).toBe("ATTESTATION_MISMATCH");
    }
    expect(relay.stream("demo")?.rendition("720p")).toBeUndefined();
    expect(relay.stream("demo")?.getSegment(1)).toBeUndefined();
    expect(relay.stream("demo")?.rendition("360p")?.getSegment(1)).toBeUndefined();
    // An init signed for the rung is not a segment of it either.
    const init = await signedRungObject(streamer, "demo", "360p", "init", 1, 1_000);
    const asSegment = await putObject(relay.url, "demo", init, { file: "360p/seg-1.m4s" });
    expect(await errorCode(asSegment)).toBe("ATTESTATION_MISMATCH");
    // Reserved or malformed rung names are no rung at all.
    for (const rung of ["main", "init", "source", "UP", "a.b"]) {
      const res = await putObject(relay.url, "demo", low, { file: `${rung}/seg-1.m4s` });
      expect(res.status, rung).toBe(404);
    }
  });

  it("bounds the rungs per stream", async () => {
    const relay = await ingest();
    await pushLadder(relay, 1);
    for (const rung of ["a", "b", "c", "d"]) {
      const o = await signedRungObject(streamer, "demo", rung, "init", 0, 500);
      expect((await putObject(relay.url, "demo", o)).status, rung).toBe(201);
    }
    const sixth = await signedRungObject(streamer, "demo", "e", "init", 0, 500);
    const res = await putObject(relay.url, "demo", sixth);
    expect(res.status).toBe(503);
    expect(relay.stream("demo")?.renditions.size).toBe(5);
  });

  it("flows down the tree: a pulling relay follows every rung its upstream holds, bytes verified", async () => {
    const upstream = await ingest();
    const objects = await pushLadder(upstream, 3);
    const node = { nodeId: upstream.nodeId as `0x${string}`, url: upstream.url, region: "local" };
    const child = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false },
      { resolve: async () => node },
    );
    cleanup.push(() => child.stop());
    child.carry(["demo"]);
    await waitUntil("the child holds the rung's segment 2", () =>
      child.stream("demo")?.rendition("360p")?.getSegment(2)?.isComplete ? true : undefined,
    );
    const res = await fetch(`${child.url}/live/demo/360p/seg-2.m4s`);
    expect(Buffer.from(await res.arrayBuffer()).equals(objects.get("360p/seg-2.m4s")?.bytes as Buffer)).toBe(
      true,
    );
    const variants = parseMultivariantPlaylist(
      await (await fetch(`${child.url}/live/demo/master.m3u8`)).text(),
    );
    expect(variants.map((v) => v.uri)).toEqual(["index.m3u8", "360p/index.m3u8"]);
  });

  it("failover: when its upstream stops, a pulling relay's rungs follow the source to the next upstream", async () => {
    const a = await ingest();
    const b = await ingest();
    // Both ingest relays get the same signed objects, as the origin pushes them.
    const objects = [
      await signedObject(streamer, "demo", "init", 0, 2_000),
      await signedRungObject(streamer, "demo", "360p", "init", 0, 1_000),
    ];
    const segment = async (seq: number) => [
      await signedObject(streamer, "demo", "segment", seq, 50_000),
      await signedRungObject(streamer, "demo", "360p", "segment", seq, 10_000),
    ];
    for (let seq = 0; seq < 3; seq++) objects.push(...(await segment(seq)));
    for (const relay of [a, b])
      for (const o of objects) expect((await putObject(relay.url, "demo", o)).status).toBe(201);
    const nodes = [a, b].map((r) => ({ nodeId: r.nodeId as `0x${string}`, url: r.url, region: "local" }));
    const child = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false, upstreamFailuresBeforeReparent: 1 },
      {
        resolve: async (_id, exclude) => {
          const next = nodes.find((n) => !exclude.includes(n.nodeId));
          if (!next) throw new Error("none left");
          return next;
        },
      },
    );
    cleanup.push(() => child.stop());
    child.carry(["demo"]);
    await waitUntil("the child holds the rung's segment 2", () =>
      child.stream("demo")?.rendition("360p")?.getSegment(2)?.isComplete ? true : undefined,
    );
    expect(child.stream("demo")?.source).toBe(a.nodeId);
    await a.stop(); // a clean stop (drains); the tree's process tests cover kill -9 and SIGSTOP of the source's path
    const later: SignedObject[] = [];
    for (let seq = 3; seq < 6; seq++) later.push(...(await segment(seq)));
    for (const o of later) expect((await putObject(b.url, "demo", o)).status).toBe(201);
    await waitUntil(
      "the child holds the rung's segment 5, from the other upstream",
      () => (child.stream("demo")?.rendition("360p")?.getSegment(5)?.isComplete ? true : undefined),
      20_000,
    );
    expect(child.stream("demo")?.rendition("360p")?.source).toBe(b.nodeId);
    const res = await fetch(`${child.url}/live/demo/360p/seg-5.m4s`);
    expect(Buffer.from(await res.arrayBuffer()).equals(later.at(-1)?.bytes as Buffer)).toBe(true);
  });

  /**
   * An upstream relay that lies about the source window's `renditions` (the
   * list is not signed): an HTTP proxy in front of an honest relay that
   * names junk rungs first. Everything else passes through untouched.
   */
  async function lyingUpstream(
    honest: Relay,
    junk: string[],
    rewrite: (
      path: string,
      win: { renditions?: string[]; segments: Array<{ attestation: { seq: number } }> },
    ) => void = (path, win) => {
      if (path.startsWith("/live/demo/window.json"))
        win.renditions = [...junk, ...(win.renditions ?? [])].slice(0, 6);
    },
  ): Promise<string> {
    const server: Server = createServer(async (req, res) => {
      try {
        const up = await fetch(`${honest.url}${req.url ?? "/"}`);
        const body = Buffer.from(await up.arrayBuffer());
        const headers: Record<string, string> = {};
        for (const h of ["content-type", "x-srp-attestation", "x-srp-end"]) {
          const v = up.headers.get(h);
          if (v) headers[h] = v;
        }
        if (up.status === 200 && (req.url ?? "").includes("/window.json")) {
          const win = JSON.parse(body.toString("utf8"));
          rewrite(req.url ?? "", win);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(win));
          return;
        }
        res.writeHead(up.status, headers);
        res.end(body);
      } catch {
        res.writeHead(502);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("attack: an upstream naming junk rungs in its (unsigned) window cannot take a child's rung slots from the real rungs", async () => {
    const honest = await ingest();
    await pushLadder(honest, 3);
    const liar = await lyingUpstream(honest, ["j1", "j2", "j3", "j4", "j5"]);
    const node = { nodeId: honest.nodeId as `0x${string}`, url: liar, region: "local" };
    const child = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false },
      { resolve: async () => node },
    );
    cleanup.push(() => child.stop());
    child.carry(["demo"]);
    await waitUntil("the child holds the source's segment 2", () =>
      child.stream("demo")?.getSegment(2)?.isComplete ? true : undefined,
    );
    // The real rung, every object of it signed, comes through the same upstream.
    await waitUntil(
      "the child holds the 360p rung's segment 2",
      () => (child.stream("demo")?.rendition("360p")?.getSegment(2)?.isComplete ? true : undefined),
      5_000,
    );
    // A rung no verified object ever arrived for holds no slot and is advertised to no child.
    expect([...(child.stream("demo")?.renditions.keys() ?? [])]).toEqual(["360p"]);
    const win = (await (await fetch(`${child.url}/live/demo/window.json`)).json()) as {
      renditions?: string[];
    };
    expect(win.renditions).toEqual(["360p"]);
  });

  it("attack: an upstream that passes the source but freezes a rung loses the child (not the child its viewers)", async () => {
    const honest = await ingest();
    await pushLadder(honest, 2);
    const other = await ingest();
    await pushLadder(other, 2);
    // The liar passes the source's window as it is and shows the rung's only up to segment 1.
    const liar = await lyingUpstream(honest, [], (path, win) => {
      if (path.startsWith("/live/demo/360p/window.json"))
        win.segments = win.segments.filter((s) => s.attestation.seq <= 1);
    });
    const liarNode = { nodeId: honest.nodeId as `0x${string}`, url: liar, region: "local" };
    const otherNode = { nodeId: other.nodeId as `0x${string}`, url: other.url, region: "local" };
    const child = await startStaticRelay(
      { demo: streamer.address },
      { ingest: false },
      { resolve: async (_id, excluded) => (excluded.includes(liarNode.nodeId) ? otherNode : liarNode) },
    );
    cleanup.push(() => child.stop());
    child.carry(["demo"]);
    await waitUntil("the child holds the 360p rung's segment 1", () =>
      child.stream("demo")?.rendition("360p")?.getSegment(1)?.isComplete ? true : undefined,
    );
    // The stream goes on, a segment a second, on both ingest relays; the source keeps flowing
    // through the liar, so only the frozen rung can tell the child to leave it.
    for (let seq = 2; seq <= 12; seq++) {
      for (const relay of [honest, other]) {
        for (const o of [
          await signedObject(streamer, "demo", "segment", seq, 100_000),
          await signedRungObject(streamer, "demo", "360p", "segment", seq, 20_000),
        ])
          expect((await putObject(relay.url, "demo", o)).status).toBe(201);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(child.stream("demo")?.getSegment(12)?.isComplete).toBe(true);
    // Still live: the rung must be within a few segments of the source.
    expect(child.stream("demo")?.rendition("360p")?.getSegment(10)?.isComplete).toBe(true);
  });
});
