import { SrpError } from "@streamrp2p/protocol";
import type { Served } from "../delivery-signer.ts";
import { LiveStream, type LiveStreamOptions } from "../live-stream.ts";
import { MediaObject } from "../media-object.ts";
import type { ObjectRef, ToWorker } from "./messages.ts";

type Deferred = { promise: Promise<Served>; resolve(s: Served): void; reject(e: Error): void };

/** A worker's delivery signatures: made by the primary (which holds the key), awaited here. */
export class ReplicaSigner {
  readonly #pending = new WeakMap<MediaObject, Deferred>();

  served(obj: MediaObject): Promise<Served> {
    return this.#entry(obj).promise;
  }

  settle(obj: MediaObject, served: Served | Error): void {
    const d = this.#entry(obj);
    if (served instanceof Error) d.reject(served);
    else d.resolve(served);
  }

  #entry(obj: MediaObject): Deferred {
    let d = this.#pending.get(obj);
    if (!d) {
      let resolve!: (s: Served) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<Served>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a signature nobody asked for may fail unobserved
      d = { promise, resolve, reject };
      this.#pending.set(obj, d);
    }
    return d;
  }
}

/**
 * A worker's copy of its primary's windows, built from the primary's
 * messages in order. The same LiveStream as the primary's, so a playlist,
 * a window, eviction and the waiters of long polls behave identically.
 */
export class WindowReplica {
  readonly streams = new Map<string, LiveStream>();
  readonly signer = new ReplicaSigner();

  constructor(
    private readonly live: LiveStreamOptions,
    private readonly now: () => number = Date.now,
  ) {}

  apply(msg: ToWorker): void {
    switch (msg.t) {
      case "open":
        // The primary opened this stream anew (after a teardown, say): a fresh window, never the
        // old one with its old end marker.
        this.streams.get(msg.stream)?.wakeAll();
        this.streams.set(msg.stream, new LiveStream(msg.stream, msg.signer, this.live, this.now));
        return;
      case "put":
        this.#put(msg);
        return;
      case "chunk":
        this.#find(msg)?.append(msg.bytes);
        return;
      case "fail":
        this.#find(msg)?.fail(new SrpError("UPSTREAM_FAILED", `primary: ${msg.code}: ${msg.message}`));
        return;
      case "remove": {
        const obj = this.#find(msg);
        if (obj) this.streams.get(msg.stream)?.remove(obj);
        return;
      }
      case "signed": {
        const obj = this.#find(msg);
        if (!obj) return;
        this.signer.settle(
          obj,
          msg.error !== undefined
            ? new SrpError("UNAVAILABLE", `no delivery signature: ${msg.error}`)
            : { nodeSignature: msg.nodeSignature, bytes: msg.bytes },
        );
        return;
      }
      case "end": {
        const stream = this.streams.get(msg.stream);
        if (msg.end) stream?.setEnd(msg.end);
        else stream?.clearEnd();
        return;
      }
      case "drop":
        this.streams.get(msg.stream)?.wakeAll();
        this.streams.delete(msg.stream);
        return;
      default:
        return;
    }
  }

  #put(msg: Extract<ToWorker, { t: "put" }>): void {
    const stream = this.streams.get(msg.stream);
    if (!stream) return;
    let obj: MediaObject;
    if (msg.complete) {
      // Verified by the primary: the same node, so its check is this node's check.
      obj = MediaObject.complete(msg.attestation, msg.init, Buffer.concat(msg.chunks));
    } else {
      obj = new MediaObject(msg.attestation, msg.init);
      for (const chunk of msg.chunks) obj.append(chunk);
    }
    if (msg.kind === "init") stream.putInit(obj);
    else stream.putSegment(obj);
  }

  #find(ref: ObjectRef): MediaObject | undefined {
    const stream = this.streams.get(ref.stream);
    const obj = ref.kind === "init" ? stream?.getInit(ref.key) : stream?.getSegment(ref.key);
    return obj?.attestation.sha256 === ref.sha256 ? obj : undefined;
  }
}
