import { randomBytes } from "node:crypto";
import {
  encodePartAttestationHeader,
  HEADER_PART_ATTESTATION,
  OFF_CHAIN_DOMAIN,
  type PartAttestation,
  partFileName,
  sha256Hex,
  signPartAttestation,
  signSegmentAttestation,
} from "@streamrp2p/protocol";
import type { LocalAccount } from "viem";
import type { SignedObject } from "./fixtures.ts";

export interface SignedPart {
  file: string;
  bytes: Buffer;
  att: PartAttestation;
}

/** One LL-HLS part of segment `seq`, signed as an origin signs it. */
export async function signedPart(
  signer: LocalAccount,
  streamId: string,
  seq: number,
  part: number,
  bytes: Buffer = randomBytes(2_000),
  init = 0,
  partTargetMs = 250,
): Promise<SignedPart> {
  const att = await signPartAttestation(signer, OFF_CHAIN_DOMAIN, {
    streamId,
    rendition: "main",
    seq,
    part,
    initVersion: init,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: partTargetMs,
    independent: part === 0,
    partTargetMs,
    producedAt: Date.now(),
  });
  return { file: partFileName(seq, part), bytes, att };
}

/** A segment made of `count` signed parts, as an origin cuts one: the parts, then the segment of their bytes. */
export async function signedPartedSegment(
  signer: LocalAccount,
  streamId: string,
  seq: number,
  count: number,
  init = 0,
): Promise<{ parts: SignedPart[]; segment: SignedObject }> {
  const parts: SignedPart[] = [];
  for (let i = 0; i < count; i++)
    parts.push(await signedPart(signer, streamId, seq, i, randomBytes(2_000), init));
  const bytes = Buffer.concat(parts.map((p) => p.bytes));
  const att = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, {
    streamId,
    rendition: "main",
    seq,
    initVersion: init,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: count * 250,
    producedAt: Date.now(),
  });
  return { parts, segment: { file: `seg-${seq}.m4s`, bytes, att, init } };
}

export function putPart(
  relayUrl: string,
  streamId: string,
  p: SignedPart,
  override: { bytes?: Buffer; att?: PartAttestation; file?: string } = {},
) {
  const body = override.bytes ?? p.bytes;
  return fetch(`${relayUrl}/live/${streamId}/${override.file ?? p.file}`, {
    method: "PUT",
    headers: { [HEADER_PART_ATTESTATION]: encodePartAttestationHeader(override.att ?? p.att) },
    body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength),
  });
}
