import {
  decodePartAttestationHeader,
  HEADER_PART_ATTESTATION,
  OFF_CHAIN_DOMAIN,
  parseLowLatency,
  parseMediaPlaylist,
  verifyPartAttestation,
} from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { putPart, signedPart, signedPartedSegment } from "../../../test/support/ll-fixtures.ts";

const streamer = newAccount();
const stranger = newAccount();
const PARTS = 4; // per 1 s segment: 250 ms parts

/** Conformance of one relay's LL-HLS server (draft-pantos-hls-rfc8216bis 6.2.5), over real HTTP. */
describe("LL-HLS at a relay", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function relayWith(segments: number, playlistSegments = 6): Promise<Relay> {
    const relay = await startStaticRelay(
      { demo: streamer.address, other: stranger.address },
      { playlistSegments },
    );
    cleanup.push(() => relay.stop());
    expect(
      (await putObject(relay.url, "demo", await signedObject(streamer, "demo", "init", 0, 500))).status,
    ).toBe(201);
    for (let seq = 0; seq < segments; seq++) await pushSegment(relay, seq);
    return relay;
  }

  async function pushSegment(relay: Relay, seq: number): Promise<void> {
    const { parts, segment } = await signedPartedSegment(streamer, "demo", seq, PARTS);
    for (const p of parts) expect((await putPart(relay.url, "demo", p)).status).toBe(201);
    expect((await putObject(relay.url, "demo", segment)).status).toBe(201);
  }

  /** The LL-HLS playlist (`ll=1`) with more of the query `q` (e.g. `&_HLS_msn=2`). */
  const get = (relay: Relay, q: string) =>
    fetch(`${relay.url}/live/demo/index.m3u8?ll=1${q.replace(/^\?/, "&")}`);

  it("plain HLS until parts arrive, and always to a client that did not ask for LL; then server control, part info, parts and a preload hint", async () => {
    const relay = await relayWith(0);
    const seg = await signedObject(streamer, "demo", "segment", 0, 1000);
    await putObject(relay.url, "demo", seg);
    const plain = await (await get(relay, "")).text();
    expect(plain).toContain("#EXT-X-VERSION:7");
    expect(plain).not.toContain("#EXT-X-PART");
    expect(plain).not.toContain("SERVER-CONTROL");

    await pushSegment(relay, 1);
    await putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, 0));
    const notAsked = await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text();
    expect(notAsked).toContain("#EXT-X-VERSION:7");
    for (const tag of ["#EXT-X-PART", "SERVER-CONTROL", "PRELOAD-HINT", "part-"])
      expect(notAsked).not.toContain(tag);
    expect((await fetch(`${relay.url}/live/demo/index.m3u8?ll=yes`)).status).toBe(400);
    const text = await (await get(relay, "")).text();
    const ll = parseLowLatency(text);
    expect(ll.serverControl).toEqual({
      "CAN-BLOCK-RELOAD": "YES",
      "PART-HOLD-BACK": "0.750", // 3 part targets of the origin's signed 250 ms
      "CAN-SKIP-UNTIL": "6.0",
    });
    expect(ll.partTargetS).toBe(0.25);
    expect(ll.parts.map((p) => p.uri)).toEqual(
      [0, 1, 2, 3].map((i) => `part-1.${i}.m4s`).concat("part-2.0.m4s"),
    );
    expect(ll.preloadHint).toBe("part-2.1.m4s");
    // Segment 0 came without parts: it is listed whole, without EXT-X-PART lines.
    expect(parseMediaPlaylist(text).segments.map((s) => s.uri)).toEqual(["seg-0.m4s", "seg-1.m4s"]);
  });

  it("a blocking reload (_HLS_msn/_HLS_part) is answered once that part exists, with it listed", async () => {
    const relay = await relayWith(2);
    let answered = false;
    const blocked = get(relay, "?_HLS_msn=2&_HLS_part=1").then((r) => {
      answered = true;
      return r;
    });
    await putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, 0));
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false); // part 0 is not part 1
    await putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, 1));
    const res = await blocked;
    expect(res.status).toBe(200);
    expect(parseLowLatency(await res.text()).parts.map((p) => p.uri)).toContain("part-2.1.m4s");
    // Already there: answered at once; _HLS_msn alone waits for the whole segment.
    expect((await get(relay, "?_HLS_msn=1")).status).toBe(200);
  });

  it("a blocking reload for the next whole segment is answered when it completes", async () => {
    const relay = await relayWith(2);
    const blocked = get(relay, "?_HLS_msn=2");
    await pushSegment(relay, 2);
    const res = await blocked;
    expect(res.status).toBe(200);
    expect(parseMediaPlaylist(await res.text()).segments.at(-1)?.uri).toBe("seg-2.m4s");
  });

  it("400 for malformed directives and for requests too far ahead", async () => {
    const relay = await relayWith(2);
    for (const q of [
      "?_HLS_part=1",
      "?_HLS_msn=x",
      "?_HLS_msn=1&_HLS_part=-1",
      "?_HLS_skip=MAYBE",
      "?_HLS_msn=4",
    ]) {
      const res = await get(relay, q);
      expect(res.status, q).toBe(400);
      expect((await res.json()).error.code).toBe("BAD_REQUEST");
    }
    expect((await get(relay, "?_HLS_msn=2&_HLS_part=3")).status).toBe(400); // 3 parts past the newest (none yet)
  });

  it("503 when the asked part does not appear within 3 target durations", async () => {
    const relay = await relayWith(2);
    const res = await get(relay, "?_HLS_msn=2&_HLS_part=0");
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe("RELOAD_TIMEOUT");
  });

  it("a delta update (_HLS_skip=YES) replaces segments before the skip boundary with EXT-X-SKIP", async () => {
    const relay = await relayWith(12, 12);
    const full = parseMediaPlaylist(await (await get(relay, "")).text());
    const deltaText = await (await get(relay, "?_HLS_skip=YES")).text();
    const delta = parseMediaPlaylist(deltaText);
    expect(full.segments).toHaveLength(12);
    expect(parseLowLatency(deltaText).skipped).toBe(6);
    expect(delta.segments.map((s) => s.mediaSequence)).toEqual(
      full.segments.slice(6).map((s) => s.mediaSequence),
    );
    expect(delta.segments.map((s) => s.uri)).toEqual(full.segments.slice(6).map((s) => s.uri));
    // Combined with a blocking reload.
    expect((await get(relay, "?_HLS_msn=11&_HLS_skip=YES")).status).toBe(200);
  });

  it("a preload-hinted part requested before it exists blocks, then streams the signed part", async () => {
    const relay = await relayWith(2);
    const hint = parseLowLatency(await (await get(relay, "")).text()).preloadHint;
    expect(hint).toBe("part-2.0.m4s");
    const pending = fetch(`${relay.url}/live/demo/${hint}`);
    const part = await signedPart(streamer, "demo", 2, 0);
    await putPart(relay.url, "demo", part);
    const res = await pending;
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(part.bytes)).toBe(true);
    const att = decodePartAttestationHeader(res.headers.get(HEADER_PART_ATTESTATION) ?? undefined);
    await verifyPartAttestation(att, streamer.address, OFF_CHAIN_DOMAIN);
    expect(att).toEqual(part.att);
  });

  it("a hinted part that will not exist (its segment ended first) is 404; one far ahead is 404 at once", async () => {
    const relay = await relayWith(2);
    for (let i = 0; i < 3; i++) await putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, i));
    const pending = fetch(`${relay.url}/live/demo/part-2.3.m4s`);
    // Segment 2 is cut after 3 parts (the next keyframe came early): part 3 never comes.
    const seg = await signedObject(streamer, "demo", "segment", 2, 1000);
    await putObject(relay.url, "demo", seg);
    expect((await pending).status).toBe(404);
    expect((await fetch(`${relay.url}/live/demo/part-9.0.m4s`)).status).toBe(404);
    expect((await fetch(`${relay.url}/live/demo/part-3.3.m4s`)).status).toBe(404); // past the advance limit
  });

  it("refuses forged, replayed, swapped, foreign and truncated parts", async () => {
    const relay = await relayWith(2);
    const p0 = await signedPart(streamer, "demo", 2, 0);
    const p1 = await signedPart(streamer, "demo", 2, 1);
    const status = async (r: Promise<Response>) => {
      const res = await r;
      return `${res.status} ${((await res.json()) as { error?: { code: string } }).error?.code ?? "ok"}`;
    };
    // Replayed at another index, or as another segment's part.
    expect(await status(putPart(relay.url, "demo", p0, { file: "part-2.1.m4s" }))).toBe(
      "400 ATTESTATION_MISMATCH",
    );
    expect(await status(putPart(relay.url, "demo", p0, { file: "part-3.0.m4s" }))).toBe(
      "400 ATTESTATION_MISMATCH",
    );
    // Part index swapped in the attestation: its signature breaks.
    expect(
      await status(putPart(relay.url, "demo", p1, { att: { ...p1.att, part: 0 }, file: "part-2.0.m4s" })),
    ).toBe("403 BAD_SIGNATURE");
    // Another stream's part, under this stream's path or relabelled.
    const foreign = await signedPart(stranger, "other", 2, 0);
    expect(await status(putPart(relay.url, "demo", foreign, { file: "part-2.0.m4s" }))).toBe(
      "400 ATTESTATION_MISMATCH",
    );
    expect(
      await status(putPart(relay.url, "demo", foreign, { att: { ...foreign.att, streamId: "demo" } })),
    ).toBe("403 BAD_SIGNATURE");
    // Signed by someone else for this stream.
    expect(await status(putPart(relay.url, "demo", await signedPart(stranger, "demo", 2, 0)))).toBe(
      "403 BAD_SIGNATURE",
    );
    // Truncated or altered bytes.
    expect(await status(putPart(relay.url, "demo", p0, { bytes: p0.bytes.subarray(1) }))).not.toMatch(/^20/);
    const flipped = Buffer.from(p0.bytes);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    expect(await status(putPart(relay.url, "demo", p0, { bytes: flipped }))).toBe("400 HASH_MISMATCH");
    // A part whose init the relay does not hold.
    expect(
      await status(putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, 0, undefined, 7))),
    ).toBe("409 INIT_NOT_HELD");
    // None of it is served; the real part is, and a retry of it is idempotent.
    expect(relay.stream("demo")?.getPart(2, 0)).toBeUndefined();
    expect(await status(putPart(relay.url, "demo", p0))).toBe("201 ok");
    expect(await status(putPart(relay.url, "demo", p0))).toBe("200 ok");
    expect(await status(putPart(relay.url, "demo", await signedPart(streamer, "demo", 2, 0)))).toBe(
      "409 CONFLICT",
    );
  });

  it("keeps parts for a bounded number of recent segments", async () => {
    const relay = await relayWith(10);
    const stream = relay.stream("demo");
    expect(stream?.getPart(9, 0)).toBeDefined();
    expect(stream?.getPart(4, 0)).toBeUndefined();
    expect(stream?.partsAfter(-1, -1).length).toBeLessThanOrEqual(5 * PARTS);
    // Parts of a segment long gone are refused, not stored.
    const old = await putPart(relay.url, "demo", await signedPart(streamer, "demo", 1, 0));
    expect(old.status).toBe(409);
  });
});
