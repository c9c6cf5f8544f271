import type { StreamEnd } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { DeliverySigner } from "../delivery-signer.ts";
import type { LiveStream, WindowObserver } from "../live-stream.ts";
import type { MediaObject } from "../media-object.ts";
import type { ObjectRef, ToWorker } from "./messages.ts";

type Send = (msg: ToWorker) => void;

function refOf(stream: LiveStream, obj: MediaObject, kind: "init" | "segment"): ObjectRef {
  return {
    stream: stream.streamId,
    kind,
    key: kind === "init" ? obj.init : obj.attestation.seq,
    sha256: obj.attestation.sha256,
  };
}

/**
 * The primary's side of window replication: every change to a window, as a
 * message to every worker, in the order it happened. Objects still arriving
 * are followed chunk by chunk, so workers cut through as the primary does.
 * Each object is signed once, here (the node key stays in the primary), and
 * the signature follows the object.
 */
export class WindowReplicator implements WindowObserver {
  constructor(
    private readonly broadcast: Send,
    private readonly signer: DeliverySigner,
    private readonly log: Logger,
  ) {}

  opened(stream: LiveStream): void {
    this.broadcast({ t: "open", stream: stream.streamId, signer: stream.signer });
  }

  put(stream: LiveStream, obj: MediaObject, kind: "init" | "segment"): void {
    const ref = refOf(stream, obj, kind);
    this.#sendObject(ref, obj, this.broadcast);
    if (!obj.isComplete && !obj.failed) {
      // Everything after the snapshot just sent: no chunk is sent twice or missed (one thread).
      obj.subscribe({
        data: (bytes) => this.broadcast({ t: "chunk", ...ref, bytes }),
        end: () => {},
        fail: (err) => this.broadcast({ t: "fail", ...ref, code: err.code, message: err.message }),
      });
    }
    this.#sendSignature(ref, obj, this.broadcast);
  }

  removed(stream: LiveStream, obj: MediaObject, kind: "init" | "segment"): void {
    this.broadcast({ t: "remove", ...refOf(stream, obj, kind) });
  }

  ended(stream: LiveStream, end: StreamEnd | null): void {
    this.broadcast({ t: "end", stream: stream.streamId, end });
  }

  dropped(streamId: string): void {
    this.broadcast({ t: "drop", stream: streamId });
  }

  /**
   * Everything held now, to one new worker. The caller adds the worker to the
   * broadcast in the same tick, so chunks of objects in flight continue there.
   */
  sync(streams: Iterable<LiveStream>, send: Send): void {
    for (const stream of streams) {
      send({ t: "open", stream: stream.streamId, signer: stream.signer });
      for (const [obj, kind] of stream.objects()) {
        const ref = refOf(stream, obj, kind);
        this.#sendObject(ref, obj, send);
        this.#sendSignature(ref, obj, send);
      }
      if (stream.end) send({ t: "end", stream: stream.streamId, end: stream.end });
    }
  }

  #sendObject(ref: ObjectRef, obj: MediaObject, send: Send): void {
    send({
      t: "put",
      ...ref,
      attestation: obj.attestation,
      init: obj.init,
      chunks: obj.snapshot(),
      complete: obj.isComplete,
    });
    if (obj.failed) send({ t: "fail", ...ref, code: obj.failed.code, message: obj.failed.message });
  }

  #sendSignature(ref: ObjectRef, obj: MediaObject, send: Send): void {
    this.signer.served(obj).then(
      (served) =>
        send({
          t: "signed",
          ...ref,
          nodeSignature: served.nodeSignature,
          bytes: served.bytes,
          error: undefined,
        }),
      (err: unknown) => {
        this.log.warn("cannot sign a delivery", { ...ref, err });
        send({ t: "signed", ...ref, nodeSignature: "", bytes: undefined, error: String(err) });
      },
    );
  }
}
