import {
  attestationDigest,
  decodeAttestationHeader,
  OFF_CHAIN_DOMAIN,
  signSegmentAttestation,
  signStreamEnd,
  verifyDelivery,
} from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newAccount,
  postStreamEnd,
  putObject,
  signedObject,
  startStaticRelay,
} from "../../../test/support/fixtures.ts";

const streamer = newAccount();
const impostor = newAccount();

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error: { code: string } };
  return body.error.code;
}

describe("relay push ingest", () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startStaticRelay({ demo: streamer.address }, { maxSegmentBytes: 200_000 });
    const init = await signedObject(streamer, "demo", "init", 0, 1000);
    expect((await putObject(relay.url, "demo", init)).status).toBe(201);
  });
  afterAll(() => relay.stop());

  it("stores a verified segment and serves it with its attestation", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 0);
    expect((await putObject(relay.url, "demo", seg)).status).toBe(201);
    const res = await fetch(`${relay.url}/live/demo/seg-0.m4s`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/iso.segment");
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(decodeAttestationHeader(res.headers.get("x-srp-attestation") ?? undefined)).toEqual(seg.att);
    expect(Buffer.from(await res.arrayBuffer()).equals(seg.bytes)).toBe(true);
    // x-srp-node-sig names exactly this attestation and the hash served, and nothing else.
    const nodeSig = res.headers.get("x-srp-node-sig") ?? "";
    await verifyDelivery(OFF_CHAIN_DOMAIN, seg.att, seg.att.sha256, nodeSig, relay.nodeId);
    const other = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
      ...seg.att,
      producedAt: seg.att.producedAt + 1,
    });
    await expect(
      verifyDelivery(OFF_CHAIN_DOMAIN, other, seg.att.sha256, nodeSig, relay.nodeId),
    ).rejects.toThrow(/not signed/);
    const playlist = await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text();
    expect(playlist).toContain("seg-0.m4s");
  });

  it("treats a retried identical push as success, and a different signed body as a conflict", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 1);
    expect((await putObject(relay.url, "demo", seg)).status).toBe(201);
    expect((await putObject(relay.url, "demo", seg)).status).toBe(200);
    const other = await signedObject(streamer, "demo", "segment", 1);
    const res = await putObject(relay.url, "demo", other);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("CONFLICT");
    const served = Buffer.from(await (await fetch(`${relay.url}/live/demo/seg-1.m4s`)).arrayBuffer());
    expect(served.equals(seg.bytes)).toBe(true); // the first one is kept, nothing lost
  });

  it("refuses a wrong signature with 403 and stores nothing", async () => {
    const forged = await signedObject(impostor, "demo", "segment", 10);
    const res = await putObject(relay.url, "demo", forged);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("BAD_SIGNATURE");
    expect((await fetch(`${relay.url}/live/demo/seg-10.m4s`)).status).toBe(404);
  });

  it("refuses bytes whose hash differs from the attestation with 400 and stores nothing", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 11);
    const tampered = Buffer.from(seg.bytes);
    tampered[100] = (tampered[100] ?? 0) ^ 0xff;
    const res = await putObject(relay.url, "demo", seg, { bytes: tampered });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("HASH_MISMATCH");
    expect((await fetch(`${relay.url}/live/demo/seg-11.m4s`)).status).toBe(404);
    expect(await (await fetch(`${relay.url}/live/demo/index.m3u8`)).text()).not.toContain("seg-11.m4s");
  });

  it("refuses a truncated body as a hash mismatch", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 12);
    const res = await putObject(relay.url, "demo", seg, { bytes: seg.bytes.subarray(0, 1000) });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("HASH_MISMATCH");
  });

  it("refuses an unknown stream with 404", async () => {
    const seg = await signedObject(streamer, "nosuch", "segment", 0);
    const res = await putObject(relay.url, "nosuch", seg);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe("STREAM_NOT_FOUND");
  });

  it("refuses an oversized body with 413 before reading it", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 13, 300_000);
    const res = await putObject(relay.url, "demo", seg);
    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe("PAYLOAD_TOO_LARGE");
    expect((await fetch(`${relay.url}/live/demo/seg-13.m4s`)).status).toBe(404);
  });

  it("refuses an attestation for another file, and a missing or garbled one", async () => {
    const seg = await signedObject(streamer, "demo", "segment", 14);
    const moved = await putObject(relay.url, "demo", seg, { file: "seg-15.m4s" });
    expect(moved.status).toBe(400);
    expect(await errorCode(moved)).toBe("ATTESTATION_MISMATCH");
    const garbled = await putObject(relay.url, "demo", seg, { headers: { "x-srp-attestation": "garbage!" } });
    expect(garbled.status).toBe(400);
    const noInit = await putObject(relay.url, "demo", seg, { headers: { "x-srp-init": "abc" } });
    expect(noInit.status).toBe(400);
    expect((await fetch(`${relay.url}/live/demo/seg-14.m4s`)).status).toBe(404);
  });

  it("refuses an end from the future (signed for a later segment, e.g. on another network with the same key): the live broadcast goes on", async () => {
    const s = await startStaticRelay({ demo: streamer.address });
    try {
      await putObject(s.url, "demo", await signedObject(streamer, "demo", "init", 0, 100));
      for (const seq of [0, 1, 2])
        await putObject(s.url, "demo", await signedObject(streamer, "demo", "segment", seq, 500));
      const future = await signStreamEnd(streamer, {
        streamId: "demo",
        lastSeq: 5000,
        lastAttestation: `0x${"ab".repeat(32)}`,
        producedAt: Date.now(),
      });
      const res = await postStreamEnd(s.url, "demo", future);
      expect(res.status).toBe(409);
      expect(await errorCode(res)).toBe("CONFLICT");
      const playlist = await (await fetch(`${s.url}/live/demo/index.m3u8`)).text();
      expect(playlist).not.toContain("#EXT-X-ENDLIST");
      expect((await fetch(`${s.url}/live/demo/index.m3u8`)).headers.get("x-srp-end")).toBeNull();
    } finally {
      await s.stop();
    }
  });

  it("refuses a replayed old end while the stream is live again: no ENDLIST for a live broadcast", async () => {
    const s = await startStaticRelay({ demo: streamer.address });
    try {
      await putObject(s.url, "demo", await signedObject(streamer, "demo", "init", 0, 100));
      await putObject(s.url, "demo", await signedObject(streamer, "demo", "segment", 0, 500));
      const seg1 = await signedObject(streamer, "demo", "segment", 1, 500);
      await putObject(s.url, "demo", seg1);
      // An end for seq 1 of another broadcast (or network) names another segment: refused.
      const otherSeg1 = await signedObject(streamer, "demo", "segment", 1, 500);
      const elsewhere = await signStreamEnd(streamer, {
        streamId: "demo",
        lastSeq: 1,
        lastAttestation: attestationDigest(otherSeg1.att, OFF_CHAIN_DOMAIN),
        producedAt: Date.now(),
      });
      const refused = await postStreamEnd(s.url, "demo", elsewhere);
      expect(refused.status).toBe(409);
      expect(await (await fetch(`${s.url}/live/demo/index.m3u8`)).text()).not.toContain("#EXT-X-ENDLIST");
      const end = await signStreamEnd(streamer, {
        streamId: "demo",
        lastSeq: 1,
        lastAttestation: attestationDigest(seg1.att, OFF_CHAIN_DOMAIN),
        producedAt: Date.now(),
      });
      const postEnd = () => postStreamEnd(s.url, "demo", end);
      expect((await postEnd()).status).toBe(200);
      expect(await (await fetch(`${s.url}/live/demo/index.m3u8`)).text()).toContain("#EXT-X-ENDLIST");
      // The streamer goes live again; the old signed end is public and replayed by anyone.
      await putObject(s.url, "demo", await signedObject(streamer, "demo", "segment", 2, 500));
      const replay = await postEnd();
      expect(replay.status).toBe(409);
      expect(await errorCode(replay)).toBe("CONFLICT");
      expect(await (await fetch(`${s.url}/live/demo/index.m3u8`)).text()).not.toContain("#EXT-X-ENDLIST");
    } finally {
      await s.stop();
    }
  });

  it("refuses a signed segment relabelled with an init it does not hold, or replayed below a full window, and never rewrites a held segment's init", async () => {
    const s = await startStaticRelay({ demo: streamer.address }, { maxSegments: 3 });
    try {
      await putObject(s.url, "demo", await signedObject(streamer, "demo", "init", 1, 100));
      const segs = [];
      for (const seq of [100, 101, 102, 103]) {
        const seg = await signedObject(streamer, "demo", "segment", seq, 500, 1);
        segs.push(seg);
        expect((await putObject(s.url, "demo", seg)).status).toBe(201);
      }
      const playlistBefore = await (await fetch(`${s.url}/live/demo/index.m3u8`)).text();
      // An old signed segment replayed with another init than the one its attestation signs (it
      // would evict init 1): the signed initVersion is the truth, the header a lie.
      const old = await signedObject(streamer, "demo", "segment", 50, 500, 1);
      const relabelled = await putObject(s.url, "demo", old, { headers: { "x-srp-init": "999999999" } });
      expect(relabelled.status).toBe(400);
      expect(await errorCode(relabelled)).toBe("ATTESTATION_MISMATCH");
      // A segment signed with an init the relay does not hold: send the init first.
      const unheld = await signedObject(streamer, "demo", "segment", 104, 500, 999_999_999);
      const needsInit = await putObject(s.url, "demo", unheld);
      expect(needsInit.status).toBe(409);
      expect(await errorCode(needsInit)).toBe("INIT_NOT_HELD");
      // The same with the init it does hold, below the full window.
      const belowWindow = await putObject(s.url, "demo", old);
      expect(belowWindow.status).toBe(409);
      // A held segment re-pushed with another init is a conflict, not an idempotent 200.
      const segment103 = segs[3];
      if (!segment103) throw new Error("no segment");
      const moved = await putObject(s.url, "demo", segment103, { headers: { "x-srp-init": "7" } });
      expect(moved.status).toBe(400);
      expect(await errorCode(moved)).toBe("ATTESTATION_MISMATCH");
      expect(s.stream("demo")?.hasInit(1)).toBe(true);
      expect(await (await fetch(`${s.url}/live/demo/index.m3u8`)).text()).toBe(playlistBefore);
    } finally {
      await s.stop();
    }
  });

  it("takes only attestations signed for its own deployment: another chain, another contract or no chain is refused (issue 11, finding 6)", async () => {
    const here = { chainId: 8453, verifyingContract: "0x00000000000000000000000000000000000f4a0d" as const };
    const s = await startStaticRelay({ demo: streamer.address }, {}, undefined, here);
    try {
      const elsewhere = [
        OFF_CHAIN_DOMAIN,
        { ...here, chainId: 84532 }, // the same contract address on a testnet
        { ...here, verifyingContract: "0x00000000000000000000000000000000000f4a0e" as const }, // another deployment
      ];
      for (const domain of elsewhere) {
        const replayed = await signedObject(streamer, "demo", "init", 0, 100, 0, domain);
        const res = await putObject(s.url, "demo", replayed);
        expect(res.status, JSON.stringify(domain)).toBe(403);
        expect(await errorCode(res)).toBe("BAD_SIGNATURE");
      }
      expect(s.stream("demo")).toBeUndefined();
      expect(
        (await putObject(s.url, "demo", await signedObject(streamer, "demo", "init", 0, 100, 0, here)))
          .status,
      ).toBe(201);
    } finally {
      await s.stop();
    }
  });

  it("creates no state for a stream until a verified object arrives", async () => {
    const s = await startStaticRelay({ other: streamer.address });
    try {
      const forged = await signedObject(impostor, "other", "init", 0, 100);
      expect((await putObject(s.url, "other", forged)).status).toBe(403);
      expect(s.stream("other")).toBeUndefined();
      const garbled = await putObject(s.url, "other", forged, { headers: { "x-srp-attestation": "%%%" } });
      expect(garbled.status).toBe(400);
      expect(s.stream("other")).toBeUndefined();
    } finally {
      await s.stop();
    }
  });

  it("answers unknown paths, streams and segments with JSON errors", async () => {
    const cases: Array<[string, number, string]> = [
      ["/live/demo/seg-999.m4s", 404, "SEGMENT_NOT_FOUND"],
      ["/live/nosuch/index.m3u8", 404, "STREAM_NOT_FOUND"],
      ["/live/demo/../../etc/passwd", 404, "NOT_FOUND"],
      ["/nothing", 404, "NOT_FOUND"],
    ];
    for (const [path, status, code] of cases) {
      const res = await fetch(`${relay.url}${path}`);
      expect(res.status, path).toBe(status);
      expect(await errorCode(res), path).toBe(code);
    }
  });

  it("evicts old segments beyond its bounded window", async () => {
    const small = await startStaticRelay({ demo: streamer.address }, { maxSegments: 3 });
    try {
      await putObject(small.url, "demo", await signedObject(streamer, "demo", "init", 0, 100));
      for (let seq = 0; seq < 5; seq++) {
        expect(
          (await putObject(small.url, "demo", await signedObject(streamer, "demo", "segment", seq, 1000)))
            .status,
        ).toBe(201);
      }
      expect((await fetch(`${small.url}/live/demo/seg-1.m4s`)).status).toBe(404);
      expect((await fetch(`${small.url}/live/demo/seg-2.m4s`)).status).toBe(200);
      expect(
        small
          .stream("demo")
          ?.window()
          .segments.map((s) => s.attestation.seq),
      ).toEqual([2, 3, 4]);
    } finally {
      await small.stop();
    }
  });

  it("exposes health and Prometheus metrics", async () => {
    const health = (await (await fetch(`${relay.url}/healthz`)).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/srp_relay_rejected_puts_total\{code="BAD_SIGNATURE",service="relay"\} [1-9]/);
    expect(metrics).toContain("srp_relay_bytes_served_total");
  });
});
