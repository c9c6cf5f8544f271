import { createHash, type Hash } from "node:crypto";
import type { SegmentAttestation } from "@streamrp2p/protocol";
import { SrpError } from "@streamrp2p/protocol";

export type ObjectListener = {
  /** New bytes appended at `offset`. */
  data(chunk: Buffer): void;
  end(): void;
  fail(err: SrpError): void;
};

/** What an object's bytes are checked against: a segment's or a part's attestation. */
export interface AttestedBytes {
  sha256: string;
  byteLength: number;
}

/**
 * One init, media segment or LL-HLS part in the cache. It may still be arriving: readers
 * attach and get bytes as they come (cut-through), and all of them share the
 * one upstream fetch (request collapsing). The SHA-256 is checked as bytes
 * arrive; a mismatch fails the object and every reader's connection.
 */
export class MediaObject<A extends AttestedBytes = SegmentAttestation> {
  readonly attestation: A;
  /** Init version for media segments; the init's own version for inits. */
  readonly init: number;
  #chunks: Buffer[] = [];
  #received = 0;
  #hash: Hash = createHash("sha256");
  #bytes: Buffer | undefined;
  #failed: SrpError | undefined;
  readonly #listeners = new Set<ObjectListener>();

  constructor(attestation: A, init: number) {
    this.attestation = attestation;
    this.init = init;
  }

  /** Builds a complete object from verified bytes (push path). */
  static complete<T extends AttestedBytes>(attestation: T, init: number, bytes: Buffer): MediaObject<T> {
    const o = new MediaObject<T>(attestation, init);
    o.#bytes = bytes;
    o.#received = bytes.length;
    o.#chunks = [];
    return o;
  }

  get bytes(): Buffer | undefined {
    return this.#bytes;
  }
  get received(): number {
    return this.#received;
  }
  get failed(): SrpError | undefined {
    return this.#failed;
  }
  get isComplete(): boolean {
    return this.#bytes !== undefined;
  }
  get byteLength(): number {
    return this.attestation.byteLength;
  }

  /** Bytes so far, for a reader that attaches mid-flight. */
  snapshot(): Buffer[] {
    return this.#bytes ? [this.#bytes] : [...this.#chunks];
  }

  subscribe(listener: ObjectListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Appends upstream bytes; fails the object when it grows past its attested size. */
  append(chunk: Buffer): void {
    if (this.#bytes || this.#failed) return;
    if (this.#received + chunk.length > this.attestation.byteLength) {
      this.fail(new SrpError("HASH_MISMATCH", "upstream sent more bytes than attested"));
      return;
    }
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    this.#hash.update(chunk);
    for (const l of this.#listeners) l.data(chunk);
    if (this.#received === this.attestation.byteLength) this.#finish();
  }

  #finish(): void {
    const digest = `0x${this.#hash.digest("hex")}`;
    if (digest !== this.attestation.sha256) {
      this.fail(new SrpError("HASH_MISMATCH", "segment SHA-256 differs from its attestation"));
      return;
    }
    this.#bytes = Buffer.concat(this.#chunks, this.#received);
    this.#chunks = [];
    for (const l of this.#listeners) l.end();
    this.#listeners.clear();
  }

  fail(err: SrpError): void {
    if (this.#bytes || this.#failed) return;
    this.#failed = err;
    this.#chunks = [];
    for (const l of this.#listeners) l.fail(err);
    this.#listeners.clear();
  }

  /** Waits until complete; rejects when the object fails. */
  whenComplete(): Promise<Buffer> {
    if (this.#bytes) return Promise.resolve(this.#bytes);
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.subscribe({
        data() {},
        end: () => resolve(this.#bytes as Buffer),
        fail: reject,
      });
    });
  }
}
