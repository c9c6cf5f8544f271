import { type SigningDomain, sha256Hex, signDelivery } from "@streamrp2p/protocol";
import type { LocalAccount } from "viem";
import type { MediaObject } from "./media-object.ts";
import type { PartObject } from "./part-window.ts";

export interface Served {
  /**
   * The bytes to send instead of the object's, when `servedBytes` gave any.
   * Otherwise undefined: the object's own bytes are read at send time (a
   * signature cached while the object was in flight outlives that state).
   */
  bytes: Buffer | undefined;
  nodeSignature: string;
}

/**
 * What a node serves for an object: undefined for its own verified bytes (what
 * every honest relay does). A lying node's behaviour is injected here by the
 * tests that attack the network; it is signed like any other, so it is exactly
 * the provable fraud those tests must catch.
 */
export type ServedBytes = (obj: MediaObject | PartObject) => Promise<Buffer | undefined>;

/**
 * Signs what this node serves, once per object (x-srp-node-sig): the digest
 * of the object's attestation and the hash of the bytes served.
 */
export class DeliverySigner {
  readonly #cache = new WeakMap<MediaObject, Promise<Served>>();
  readonly #parts = new WeakMap<PartObject, Promise<Buffer | undefined>>();

  constructor(
    private readonly node: LocalAccount,
    private readonly domain: () => Promise<SigningDomain>,
    private readonly servedBytes: ServedBytes = async () => undefined,
  ) {}

  served(obj: MediaObject): Promise<Served> {
    let p = this.#cache.get(obj);
    if (!p) {
      p = this.#sign(obj);
      this.#cache.set(obj, p);
    }
    return p;
  }

  /** What this node serves for an LL-HLS part (undefined: its verified bytes); parts carry no delivery signature. */
  servedPart(part: PartObject): Promise<Buffer | undefined> {
    let p = this.#parts.get(part);
    if (!p) {
      p = this.servedBytes(part);
      this.#parts.set(part, p);
    }
    return p;
  }

  async #sign(obj: MediaObject): Promise<Served> {
    const a = obj.attestation;
    const bytes = await this.servedBytes(obj);
    const sha256 = bytes ? sha256Hex(bytes) : a.sha256;
    // Names the exact attestation this node verified, so the signature says nothing about any
    // other attestation of the same seq.
    const nodeSignature = await signDelivery(this.node, await this.domain(), a, sha256);
    return { bytes, nodeSignature };
  }
}
