import { randomBytes } from "node:crypto";
import {
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  OFF_CHAIN_DOMAIN,
  type SegmentAttestation,
  type SigningDomain,
  type StreamEnd,
  sha256Hex,
  signSegmentAttestation,
} from "@streamrp2p/protocol";
import { createRelay, type Relay, type RelayOptions, type ServedBytes } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

export function newAccount(): LocalAccount {
  return privateKeyToAccount(generatePrivateKey());
}

export interface SignedObject {
  file: string;
  bytes: Buffer;
  att: SegmentAttestation;
  init: number;
}

/** A streamer's signed init or segment over random bytes (for a network on no chain unless `domain` says). */
export async function signedObject(
  signer: LocalAccount,
  streamId: string,
  kind: "init" | "segment",
  seq: number,
  size = 50_000,
  init = 0,
  domain: SigningDomain = OFF_CHAIN_DOMAIN,
): Promise<SignedObject> {
  const bytes = randomBytes(size);
  const att = await signSegmentAttestation(signer, domain, {
    streamId,
    rendition: kind === "init" ? "init" : "main",
    seq,
    initVersion: kind === "init" ? seq : init,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: kind === "init" ? 0 : 1000,
    producedAt: Date.now(),
  });
  return {
    file: kind === "init" ? `init-${seq}.mp4` : `seg-${seq}.m4s`,
    bytes,
    att,
    init: kind === "init" ? seq : init,
  };
}

/** A transcoded rung's signed init or segment (attested for that rung), as the origin pushes it under `rung/`. */
export async function signedRungObject(
  signer: LocalAccount,
  streamId: string,
  rung: string,
  kind: "init" | "segment",
  seq: number,
  size = 20_000,
  init = 0,
): Promise<SignedObject> {
  const o = await signedObject(signer, streamId, kind, seq, size, init);
  const att = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, {
    ...o.att,
    rendition: kind === "init" ? `${rung}.init` : rung,
  });
  return { ...o, att, file: `${rung}/${o.file}` };
}

export function putObject(
  relayUrl: string,
  streamId: string,
  o: SignedObject,
  override: {
    bytes?: Buffer;
    att?: SegmentAttestation;
    file?: string;
    headers?: Record<string, string>;
  } = {},
) {
  const body = override.bytes ?? o.bytes;
  return fetch(`${relayUrl}/live/${streamId}/${override.file ?? o.file}`, {
    method: "PUT",
    headers: {
      [HEADER_ATTESTATION]: encodeAttestationHeader(override.att ?? o.att),
      [HEADER_INIT_VERSION]: String(o.init),
      ...override.headers,
    },
    body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength),
  });
}

/** POSTs a signed stream end to a relay, as the origin does. */
export function postStreamEnd(relayUrl: string, streamId: string, end: StreamEnd) {
  return fetch(`${relayUrl}/live/${streamId}/end`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(end),
  });
}

/** A lying relay's serving: every media segment with its middle byte flipped (inits intact). */
export const flipSegmentByte: ServedBytes = async (obj) => {
  if (obj.attestation.rendition === "init") return undefined;
  const copy = Buffer.from(await obj.whenComplete());
  const at = copy.length >> 1;
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
};

/** A relay with a fixed stream directory and no coordinator (a network on no chain unless `domain` says). */
export async function startStaticRelay(
  signers: Record<string, string>,
  options: Partial<RelayOptions> = {},
  resolver?: Parameters<typeof createRelay>[1]["resolver"],
  domain?: SigningDomain,
): Promise<Relay> {
  const relay = createRelay(
    { ingest: true, ...options },
    {
      account: newAccount(),
      log: silentLogger,
      directory: { signerOf: async (id) => signers[id]?.toLowerCase() },
      resolver,
      ...(domain ? { domain } : {}),
    },
  );
  await relay.start();
  return relay;
}
