import { RENDITION_INIT, type SigningDomain, sha256Hex, signDelivery } from "@streamrp2p/protocol";
import type { LocalAccount } from "viem";
import type { MediaObject } from "./media-object.ts";

export interface Served {
  /**
   * Test-only corrupt mode: the altered bytes to send instead of the object's.
   * Otherwise undefined: the object's own bytes are read at send time (a
   * signature cached while the object was in flight outlives that state).
   */
  bytes: Buffer | undefined;
  nodeSignature: string;
}

/**
 * Signs what this node serves, once per object (x-srp-node-sig): the digest
 * of the object's attestation and the hash of the bytes served. In the
 * test-only corrupting mode it flips a byte of every media segment and signs
 * the altered hash — exactly the provable fraud that tests must catch.
 */
export class DeliverySigner {
  readonly #cache = new WeakMap<MediaObject, Promise<Served>>();

  constructor(
    private readonly node: LocalAccount,
    private readonly domain: () => Promise<SigningDomain>,
    private readonly corruptSegments: boolean,
  ) {}

  served(obj: MediaObject): Promise<Served> {
    let p = this.#cache.get(obj);
    if (!p) {
      p = this.#sign(obj);
      this.#cache.set(obj, p);
    }
    return p;
  }

  async #sign(obj: MediaObject): Promise<Served> {
    const a = obj.attestation;
    let bytes: Buffer | undefined;
    let sha256 = a.sha256;
    if (this.corruptSegments && a.rendition !== RENDITION_INIT) {
      const copy = Buffer.from(await obj.whenComplete());
      const at = copy.length >> 1;
      copy[at] = (copy[at] ?? 0) ^ 0xff;
      bytes = copy;
      sha256 = sha256Hex(copy);
    }
    // Names the exact attestation this node verified, so the signature says nothing about any
    // other attestation of the same seq.
    const nodeSignature = await signDelivery(this.node, await this.domain(), a, sha256);
    return { bytes, nodeSignature };
  }
}
