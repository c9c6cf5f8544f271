import {
  AttestationVerifier,
  attestationDigest,
  checkSegmentBytes,
  decodeAttestationHeader,
  encodeAttestationHeader,
  OFF_CHAIN_DOMAIN,
  SrpError,
  sha256Hex,
  signSegmentAttestation,
  signStreamEnd,
  verifySegmentAttestation,
  verifyStreamEnd,
} from "@streamrp2p/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";

const streamer = privateKeyToAccount(generatePrivateKey());
const other = privateKeyToAccount(generatePrivateKey());
const bytes = Buffer.from("a segment's bytes");

async function attest(seq = 7) {
  return signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
    streamId: "demo",
    rendition: "main",
    seq,
    initVersion: 0,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: 1000,
    producedAt: 1_700_000_000_000,
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

describe("segment attestations", () => {
  it("verify against the signer and survive the header round trip", async () => {
    const att = await attest();
    const back = decodeAttestationHeader(encodeAttestationHeader(att));
    expect(back).toEqual(att);
    await expect(verifySegmentAttestation(back, streamer.address, OFF_CHAIN_DOMAIN)).resolves.toBeUndefined();
    checkSegmentBytes(back, bytes);
  });

  it("reject another signer", async () => {
    expect(await codeOf(verifySegmentAttestation(await attest(), other.address, OFF_CHAIN_DOMAIN))).toBe(
      "BAD_SIGNATURE",
    );
  });

  it("reject any signed field changed after signing", async () => {
    const att = await attest();
    for (const changed of [
      { ...att, seq: 8 },
      { ...att, initVersion: 1 },
      { ...att, byteLength: att.byteLength + 1 },
      { ...att, durationMs: 999 },
      { ...att, streamId: "other" },
      { ...att, rendition: "init" },
      { ...att, producedAt: att.producedAt + 1 },
    ]) {
      expect(await codeOf(verifySegmentAttestation(changed, streamer.address, OFF_CHAIN_DOMAIN))).toBe(
        "BAD_SIGNATURE",
      );
    }
  });

  it("are bound to one deployment: another chain id or contract does not verify, and a verifier's cache does not carry over (finding 6)", async () => {
    const a = { chainId: 1, verifyingContract: "0x1111111111111111111111111111111111111111" as const };
    const b = { chainId: 1, verifyingContract: "0x2222222222222222222222222222222222222222" as const };
    const c = { chainId: 10, verifyingContract: a.verifyingContract };
    const facts = { ...(await attest()) };
    const forA = await signSegmentAttestation(streamer, a, facts);
    await expect(verifySegmentAttestation(forA, streamer.address, a)).resolves.toBeUndefined();
    for (const d of [b, c, OFF_CHAIN_DOMAIN])
      expect(await codeOf(verifySegmentAttestation(forA, streamer.address, d))).toBe("BAD_SIGNATURE");
    expect(attestationDigest(facts, a)).not.toBe(attestationDigest(facts, b));
    expect(attestationDigest(facts, a)).not.toBe(attestationDigest(facts, c));
    // A verifier of deployment B that verified B's attestation of the same facts refuses A's.
    const verifierB = new AttestationVerifier(b);
    await verifierB.verify(await signSegmentAttestation(streamer, b, facts), streamer.address);
    expect(await codeOf(verifierB.verify(forA, streamer.address))).toBe("BAD_SIGNATURE");
  });

  it("reject bytes that differ in hash or length", async () => {
    const att = await attest();
    expect(await codeOf(() => checkSegmentBytes(att, Buffer.from("a segment's bytez")))).toBe(
      "HASH_MISMATCH",
    );
    expect(await codeOf(() => checkSegmentBytes(att, Buffer.from("short")))).toBe("HASH_MISMATCH");
  });

  it("reject malformed headers with VALIDATION_FAILED", async () => {
    const att = await attest();
    const cases = [
      undefined,
      "",
      "%%%not-base64%%%",
      Buffer.from("not json").toString("base64url"),
      Buffer.from(JSON.stringify({ ...att, extra: 1 })).toString("base64url"),
      Buffer.from(JSON.stringify({ ...att, seq: -1 })).toString("base64url"),
      Buffer.from(JSON.stringify({ ...att, sha256: "0x1234" })).toString("base64url"),
    ];
    for (const header of cases)
      expect(await codeOf(() => decodeAttestationHeader(header))).toBe("VALIDATION_FAILED");
  });

  it("reject a malformed signature as BAD_SIGNATURE, not a crash", async () => {
    const att = { ...(await attest()), signature: `0x${"00".repeat(65)}` };
    expect(await codeOf(verifySegmentAttestation(att, streamer.address, OFF_CHAIN_DOMAIN))).toBe(
      "BAD_SIGNATURE",
    );
  });
});

describe("stream end", () => {
  it("verifies only for the stream's signer and exact fields", async () => {
    const end = await signStreamEnd(streamer, {
      streamId: "demo",
      lastSeq: 41,
      lastAttestation: `0x${"cd".repeat(32)}`,
      producedAt: 5,
    });
    await expect(verifyStreamEnd(end, streamer.address)).resolves.toBeUndefined();
    expect(await codeOf(verifyStreamEnd(end, other.address))).toBe("BAD_SIGNATURE");
    expect(await codeOf(verifyStreamEnd({ ...end, lastSeq: 40 }, streamer.address))).toBe("BAD_SIGNATURE");
  });
});
