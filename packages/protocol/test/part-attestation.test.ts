import {
  AttestationVerifier,
  attestationDigest,
  checkPartAttestationFor,
  checkSegmentBytes,
  decodeAttestationHeader,
  decodePartAttestationHeader,
  encodePartAttestationHeader,
  OFF_CHAIN_DOMAIN,
  type PartAttestation,
  partAttestationDigest,
  type SegmentAttestation,
  SrpError,
  sha256Hex,
  signPartAttestation,
  verifyPartAttestation,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";

const streamer = privateKeyToAccount(generatePrivateKey());
const otherStreamer = privateKeyToAccount(generatePrivateKey());
const bytes = Buffer.from("one low-latency part's bytes");

function attest(over: Partial<PartAttestation> = {}, signer = streamer): Promise<PartAttestation> {
  return signPartAttestation(signer, OFF_CHAIN_DOMAIN, {
    streamId: "demo",
    rendition: "main",
    seq: 7,
    part: 2,
    initVersion: 1,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: 200,
    independent: false,
    partTargetMs: 200,
    producedAt: 1_700_000_000_000,
    ...over,
  });
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
    return undefined;
  } catch (err) {
    return err instanceof SrpError ? err.code : `not SrpError: ${String(err)}`;
  }
}

describe("part attestations", () => {
  it("verify against the signer and survive the header round trip", async () => {
    const att = await attest();
    const back = decodePartAttestationHeader(encodePartAttestationHeader(att));
    expect(back).toEqual(att);
    await verifyPartAttestation(back, streamer.address, OFF_CHAIN_DOMAIN);
    checkPartAttestationFor(back, "demo", 7, 2);
    checkSegmentBytes(back, bytes);
  });

  it("reject every signed field changed after signing", async () => {
    const att = await attest();
    const changes: Partial<PartAttestation>[] = [
      { seq: 8 },
      { part: 3 },
      { initVersion: 2 },
      { durationMs: 201 },
      { independent: true },
      { partTargetMs: 333 },
      { byteLength: bytes.length - 1 },
      { producedAt: att.producedAt + 1 },
      { streamId: "other" },
    ];
    for (const c of changes) {
      expect(await codeOf(verifyPartAttestation({ ...att, ...c }, streamer.address, OFF_CHAIN_DOMAIN))).toBe(
        "BAD_SIGNATURE",
      );
    }
  });

  it("a replayed part is refused at another position: other part index, other segment", async () => {
    const att = await attest();
    expect(await codeOf(() => checkPartAttestationFor(att, "demo", 7, 3))).toBe("ATTESTATION_MISMATCH");
    expect(await codeOf(() => checkPartAttestationFor(att, "demo", 8, 2))).toBe("ATTESTATION_MISMATCH");
  });

  it("a part of another stream is refused, even signed by that stream's key", async () => {
    const foreign = await attest({ streamId: "other" }, otherStreamer);
    expect(await codeOf(() => checkPartAttestationFor(foreign, "demo", 7, 2))).toBe("ATTESTATION_MISMATCH");
    // Relabelled as ours, the signature no longer holds; and it was never our streamer's.
    expect(
      await codeOf(
        verifyPartAttestation({ ...foreign, streamId: "demo" }, otherStreamer.address, OFF_CHAIN_DOMAIN),
      ),
    ).toBe("BAD_SIGNATURE");
    expect(await codeOf(verifyPartAttestation(foreign, streamer.address, OFF_CHAIN_DOMAIN))).toBe(
      "BAD_SIGNATURE",
    );
  });

  it("a truncated or altered part fails the byte check", async () => {
    const att = await attest();
    expect(await codeOf(() => checkSegmentBytes(att, bytes.subarray(0, bytes.length - 1)))).toBe(
      "HASH_MISMATCH",
    );
    const flipped = Buffer.from(bytes);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(await codeOf(() => checkSegmentBytes(att, flipped))).toBe("HASH_MISMATCH");
  });

  it("a part signature never passes as a segment's (nor its header as a segment header)", async () => {
    const att = await attest();
    const { part: _p, independent: _i, partTargetMs: _t, ...rest } = att;
    const asSegment: SegmentAttestation = rest;
    expect(await codeOf(verifySegmentAttestation(asSegment, streamer.address, OFF_CHAIN_DOMAIN))).toBe(
      "BAD_SIGNATURE",
    );
    expect(await codeOf(() => decodeAttestationHeader(encodePartAttestationHeader(att)))).toBe(
      "VALIDATION_FAILED",
    );
    expect(partAttestationDigest(att, OFF_CHAIN_DOMAIN)).not.toBe(
      attestationDigest(asSegment, OFF_CHAIN_DOMAIN),
    );
  });

  it("the verifier's cache is keyed by everything signed: a changed field is verified afresh", async () => {
    const verifier = new AttestationVerifier(OFF_CHAIN_DOMAIN);
    const att = await attest();
    await verifier.verifyPart(att, streamer.address);
    await verifier.verifyPart(att, streamer.address);
    expect(verifier.size).toBe(1);
    expect(await codeOf(verifier.verifyPart({ ...att, part: 3 }, streamer.address))).toBe("BAD_SIGNATURE");
    expect(await codeOf(verifier.verifyPart(att, otherStreamer.address))).toBe("BAD_SIGNATURE");
  });

  it("header decoding refuses garbage and out-of-range fields", async () => {
    const att = await attest();
    expect(await codeOf(() => decodePartAttestationHeader(undefined))).toBe("VALIDATION_FAILED");
    expect(await codeOf(() => decodePartAttestationHeader("!!"))).toBe("VALIDATION_FAILED");
    for (const bad of [{ part: 64 }, { partTargetMs: 10 }, { byteLength: 0 }]) {
      expect(
        await codeOf(() => decodePartAttestationHeader(encodePartAttestationHeader({ ...att, ...bad }))),
      ).toBe("VALIDATION_FAILED");
    }
  });
});
